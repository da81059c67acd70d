"""The Neo4j users the cluster's own jobs log in as, each with only the privileges its job runs (issue 26, item 3).

Pure (no Pulumi). One user per job, its role of the same name, its password in its own secret (the adapter
names it; components/passwords.job_password derives it). The first primary, which holds the admin password to
set it at first boot, creates them (idempotently, at every boot); no other server reads the admin password.

- `cert_renewal` (renew-certificates.sh, every TLS server): `CALL dbms.components()` and the member count on
  `system`, and on lines that reload TLS, `CALL dbms.security.reloadTLS()`.
- `topology_join` (join-topology.sh, 5.x and 2025 secondaries): `ALTER DATABASE … SET TOPOLOGY` on `system`.
  ALTER DATABASE is the narrowest privilege that covers it: the user may change any standard database's
  topology and options, but reads no data, manages no user, role or server.
- `backup_job` (neo4j-backup.sh: backup.py and the restore drill's restore.py on the backup server): only reads.
  dbms.components(); SHOW DATABASES (every database: ACCESS on each, and on `system`); the cluster's members
  (SHOW SERVERS on 5.x+, 4.4's dbms.cluster.overview()); the node and relationship counts of each standard
  database, from the count store (TRAVERSE on every graph's elements: no property is readable, nothing
  writable); `system`'s counts (SHOW USERS, SHOW ROLES) and the aliases for the run manifest (SHOW ALIASES).
  The backup itself (neo4j-admin over the backup port) logs in as no Neo4j user.

Community has no roles: "The functionality described in these pages applies to Enterprise Edition. A limited
set of user management functions are also available in Community Edition." (5.x, authentication-authorization/
index.adoc); a second user there could do all the admin does. So no job users: a Community stack is a single
server, the first primary itself, which holds the admin password anyway, and its jobs log in as the admin.

The privileges, from the Operations Manual (neo4j/docs-operations; the tests quote each line):
- ACCESS: "The `ACCESS` privilege enables users to connect to a database" (5.x,
  authentication-authorization/database-administration.adoc); the PUBLIC role has it on the home
  database only, and every script here runs on `system`.
- SHOW SERVERS (5.x, 2025): "the `serverViewer` role has privileges that only allow showing servers"
  (dbms-administration/dbms-server-management-privileges.adoc).
- procedures: "GRANT EXECUTE PROCEDURE * ON DBMS TO `PUBLIC`" (5.x, built-in-roles.adoc) and on 4.4 "all
  users are also assigned to the `PUBLIC` role, which enables that capability" (to execute procedures):
  dbms.components() and 4.4's dbms.cluster.overview() need no grant.
- reloadTLS is "label--admin-only" (dev, procedures/built-in-procedures.adoc): "to execute an admin
  procedure you need both the `EXECUTE PROCEDURE` and `EXECUTE BOOSTED PROCEDURE` privileges for that
  procedure" (5.x, dbms-administration/dbms-execute-privileges.adoc).
- ALTER DATABASE: "Enables the specified roles to modify standard databases"
  (dbms-administration/dbms-database-management-privileges.adoc).
- SHOW DATABASES: "The results of the `SHOW DATABASES` command are filtered according to the `ACCESS` privileges
  of the user." (5.x, database-administration/standard-databases/listing-databases.adoc); `DATABASE *` leaves out
  `system` ("The `reader` role can perform read-only queries on all graphs except for the `system` database.",
  with "GRANT ACCESS ON DATABASE * TO `reader`", built-in-roles.adoc), so `system` is granted by name.
- TRAVERSE: with "GRANT TRAVERSE ON GRAPH * ELEMENTS * TO unrestricted", "The database accesses the count store
  to retrieve the total number of nodes" (5.x, authentication-authorization/limitations.adoc); a user without it
  counts nothing.
- SHOW USER, SHOW ROLE, SHOW ALIAS ON DBMS: "Enables the specified roles to list users." / "... to list roles." /
  "... to list aliases." (5.x, dbms-administration/dbms-{user,role,alias}-management-privileges.adoc; 4.4's
  Cypher Manual, administration/access-control/dbms-administration.adoc, the same words).
"""
from __future__ import annotations

from dataclasses import dataclass

from components.reserved_names import ADMIN_USER, BACKUP_JOB, CERT_RENEWAL, TOPOLOGY_JOIN
from components.settings import Settings
from components.topology import FABRIC, PRIMARY, SECONDARY, ClusterTopology, Server
from scripts.neo4j_ops.shared.versions import Version, line_of


@dataclass(frozen=True)
class JobUser:
    name: str  # the user's and its role's name
    job: str  # what logs in as it
    grants: tuple[str, ...]  # Cypher on `system`, each idempotent


def _renews_certificates(settings: Settings) -> bool:
    return settings.tls != "disabled"


def _joins_topology(settings: Settings, topology: ClusterTopology) -> bool:
    return settings.version_line != "4.4" and any(s.role == SECONDARY for s in topology.servers)


def job_users(settings: Settings, topology: ClusterTopology) -> tuple[JobUser, ...]:
    """The job users this stack creates: none on Community (no roles), else one per job it runs."""
    if settings.edition != "enterprise":
        return ()
    users = []
    if _renews_certificates(settings):
        line = line_of(settings.version)
        grants = [f"GRANT ACCESS ON DATABASE system TO {CERT_RENEWAL}"]
        if line.supports_show_servers:
            grants.append(f"GRANT SHOW SERVERS ON DBMS TO {CERT_RENEWAL}")
        if line.reloads_tls(Version.parse(settings.version)):
            grants += [f"GRANT EXECUTE PROCEDURE dbms.security.reloadTLS ON DBMS TO {CERT_RENEWAL}",
                       f"GRANT EXECUTE BOOSTED PROCEDURE dbms.security.reloadTLS ON DBMS TO {CERT_RENEWAL}"]
        users.append(JobUser(CERT_RENEWAL, "renew-certificates.sh", tuple(grants)))
    if _joins_topology(settings, topology):
        users.append(JobUser(TOPOLOGY_JOIN, "join-topology.sh", (
            f"GRANT ACCESS ON DATABASE system TO {TOPOLOGY_JOIN}",
            f"GRANT ALTER DATABASE ON DBMS TO {TOPOLOGY_JOIN}")))
    users.append(JobUser(BACKUP_JOB, "neo4j-backup.sh", backup_grants(settings)))
    return tuple(users)


def backup_grants(settings: Settings) -> tuple[str, ...]:
    """What the backup job reads (see the module's text): listing and counting, never a property, never a write."""
    grants = [f"GRANT ACCESS ON DATABASE * TO {BACKUP_JOB}",
              f"GRANT ACCESS ON DATABASE system TO {BACKUP_JOB}",
              f"GRANT TRAVERSE ON GRAPH * ELEMENTS * TO {BACKUP_JOB}",
              f"GRANT SHOW USER ON DBMS TO {BACKUP_JOB}",
              f"GRANT SHOW ROLE ON DBMS TO {BACKUP_JOB}",
              f"GRANT SHOW ALIAS ON DBMS TO {BACKUP_JOB}"]
    if line_of(settings.version).supports_show_servers:
        grants.append(f"GRANT SHOW SERVERS ON DBMS TO {BACKUP_JOB}")
    return tuple(grants)


def user_of(settings: Settings, topology: ClusterTopology, name: str) -> str:
    """Who `name`'s job logs in as: its own user where the stack has one, else (Community) the admin."""
    return name if any(u.name == name for u in job_users(settings, topology)) else ADMIN_USER


def user_of_on(settings: Settings, topology: ClusterTopology, server: Server, name: str) -> str:
    """Who `name`'s job logs in as on `server`: user_of's answer, but the admin on a 4.4 Fabric proxy, a standalone
    DBMS whose own `system` holds the admin alone (the job users are created in the cluster's)."""
    return ADMIN_USER if server.role == FABRIC else user_of(settings, topology, name)


def creates_job_users(topology: ClusterTopology, server_name: str) -> bool:
    """The first primary creates them: it holds the admin password (it may bootstrap `system`)."""
    return topology.primaries[0].name == server_name


def reads_admin_password(topology: ClusterTopology, server: Server) -> bool:
    """The first primary alone: it creates the job users (logged in as the admin). Secondaries never: they host
    `system` as secondaries (server.cluster.system_database_mode=SECONDARY on 5.x, dbms.mode=READ_REPLICA on 4.4),
    and their jobs log in as job users. The other primaries set the initial password from its hash
    (sets_password_from_hash). A 4.4 Fabric proxy reads it too: a standalone DBMS, it sets the admin's initial
    password in its own `system`, and its certificate renewal logs in as the admin (user_of_on)."""
    return server.role == FABRIC or creates_job_users(topology, server.name)


def sets_password_from_hash(topology: ClusterTopology, server: Server) -> bool:
    """Primaries but the first: each may be the one that bootstraps `system` at the first start, so each sets the
    initial password, by writing the admin's line of auth.ini (passwords.admin_auth_line: a salted hash, which
    logs nobody in) instead of reading the password."""
    return server.role == PRIMARY and not reads_admin_password(topology, server)


def job_passwords_read_by(settings: Settings, topology: ClusterTopology, server: Server) -> tuple[str, ...]:
    """The job users whose secret `server` reads: all of them on the first primary (it creates them, and runs the
    backup job: topology.backup_server), else the users of the jobs it runs (renew-certificates.sh on every
    server, join-topology.sh on a 5.x secondary)."""
    users = job_users(settings, topology)
    if server.role == FABRIC:
        return ()  # its jobs log in as the admin (user_of_on)
    if creates_job_users(topology, server.name):
        return tuple(u.name for u in users)
    runs = ({CERT_RENEWAL} | ({TOPOLOGY_JOIN} if server.role == SECONDARY else set())
            | ({BACKUP_JOB} if server == topology.backup_server else set()))
    return tuple(u.name for u in users if u.name in runs)
