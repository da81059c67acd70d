"""The stack the job-user tests plan (tests/unit/test_job_users.py, its privileges; test_job_users_on_servers.py, the
servers' side): `stack(line)` is a 3-primary, 2-secondary cluster with TLS required on one Neo4j version of each line
(VERSIONS), as settings and topology."""
from __future__ import annotations

from components.topology import plan_topology
from tests.conftest import make_settings

VERSIONS = {"4.4": "4.4.46", "5": "5.26.30", "2025": "2025.10.1"}


def stack(line: str = "5", **overrides):
    settings = make_settings(version=VERSIONS[line], **{"coreCount": 3, "replicaCount": 2, "tls": "required",
                                                       **overrides})
    return settings, plan_topology(settings)
