"""The Neo4j user and role names the stack itself uses: the admin user and one user per job, each with its role of
the same name (components/job_users.py). Pure, imported by settings (which refuses them in `neo4j:users` and
`neo4j:roles`) and by job_users, so neither imports the other.

Why refuse them: `make security` (scripts/neo4j_ops/security/apply.py) makes a configured user's password the one
in `neo4j:userPasswords` and its roles exactly the configured ones. A configured `neo4j` would get another
password than `neo4j:adminPassword` and lose the admin role; a configured `backup_job` would lose its role and
its password (the job's own secret), and the next backup would fail to log in; a configured role `backup_job`
would have the job's privileges revoked.
"""
from __future__ import annotations

ADMIN_USER = "neo4j"
CERT_RENEWAL = "cert_renewal"
TOPOLOGY_JOIN = "topology_join"
BACKUP_JOB = "backup_job"
JOB_USER_NAMES = (CERT_RENEWAL, TOPOLOGY_JOIN, BACKUP_JOB)  # each also the name of its role
