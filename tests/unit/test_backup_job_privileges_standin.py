"""The backup job's Neo4j user (components/job_users.py, `backup_job`) against a STAND-IN for Enterprise's access
control: a model of the privilege rules the Operations Manual states (each rule below quotes it), answering the
statements the real backup code sends (scripts/neo4j_ops/backup: LocalNeo4j.facts, count_graph, the run
manifest's SHOW ALIASES) as an Enterprise server would to a user holding exactly the role's grants.

No Enterprise server runs here (Community has no roles): what these tests show is that the grants cover every
statement the job sends, that each grant is needed (removing any one refuses a statement or falsifies what the
job records), and that a write is refused. The grants' syntax is checked on real Community servers of every line
(tests/integration/test_job_users_real_neo4j.py) and the job's statements run there logged in as `backup_job`
(tests/integration/test_backup_job_user_real_neo4j.py). A statement the model does not know fails the test: a new
statement in the backup code must come with its privilege here and in job_users.py.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from components.job_users import BACKUP_JOB, backup_grants, job_users
from components.topology import plan_topology
from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.backup import dbms_backup, server
from scripts.neo4j_ops.backup.server import LocalNeo4j
from scripts.neo4j_ops.bolt import FORBIDDEN, Auth, BoltError, Reply
from tests.conftest import make_settings

# The Operations Manual (neo4j/docs-operations), word for word, on each rule the stand-in applies.
MANUAL = {
    # 5.x, database-administration/standard-databases/listing-databases.adoc
    "show databases": "The results of the `SHOW DATABASES` command are filtered according to the `ACCESS` "
                      "privileges of the user.",
    "system always": "the command can still be executed but it will only return the `system` database, which is "
                     "always visible.",
    # 5.x, authentication-authorization/built-in-roles.adoc: `DATABASE *` is not `system` ...
    "star is not system": "The `reader` role can perform read-only queries on all graphs except for the `system` "
                          "database.",
    # ... and PUBLIC reaches the home database and runs every (non-admin) procedure.
    "public home": '|"GRANT ACCESS ON HOME DATABASE TO `PUBLIC`"',
    "public procedures": '|"GRANT EXECUTE PROCEDURE * ON DBMS TO `PUBLIC`"',
    # 5.x, authentication-authorization/limitations.adoc: counts are of what the user may traverse.
    "counts": "The database cannot access the count store because it must make sure that only traversable nodes "
              "with the desired label `:Person` are counted.",
    # 5.x, dbms-administration/dbms-{user,role,alias,server}-management-privileges.adoc
    "show user": "Enables the specified roles to list users.",
    "show role": "Enables the specified roles to list roles.",
    "show alias": "Enables the specified roles to list aliases.",
    "show servers": "As a result, the `serverViewer` role has privileges that only allow showing servers.",
    # 5.x, authentication-authorization/privileges-writes.adoc: writing needs WRITE (or CREATE/DELETE/SET ...).
    "write": "The `WRITE` privilege allows the user to execute any `WRITE` command on a graph.",
}

GRAPHS = {"neo4j": (1200, 3400), "sales": (7, 5)}  # standard databases: (nodes, relationships)
USERS, ROLES, SERVERS = 5, 9, 3
ALIASES = [{"name": "shop", "composite": None, "database": "sales", "location": "local", "url": None,
            "user": None, "driver": None, "defaultLanguage": None, "properties": {}}]


class ManualPrivilegeStandIn:
    """A Transport whose one server holds GRAPHS and answers a user holding `privileges` (the grants' text between
    GRANT and TO) as the manual's rules say. Every statement is kept in `sent`."""

    def __init__(self, privileges: set[str], *, line: str = "5"):
        self.privileges = privileges
        self.line = line
        self.sent: list[tuple[str, str | None]] = []

    # the Transport interface (scripts/neo4j_ops/bolt.py)
    def client(self, uri, auth, *, tls=None):
        return SimpleNamespace(uri=uri, run=self.run, verify=lambda: None)

    def http_get(self, url, timeout):  # pragma: no cover - the backup job asks no HTTP
        raise AssertionError("the backup job asks no HTTP endpoint")

    def close(self):
        pass

    def _has(self, privilege: str) -> bool:
        return privilege in self.privileges

    def _access(self, database: str | None) -> bool:
        if database is None or database == "neo4j":  # the home (default) database: MANUAL["public home"]
            return True
        if database == "system":  # MANUAL["star is not system"]: only by name
            return self._has("ACCESS ON DATABASE system")
        return self._has("ACCESS ON DATABASE *") or self._has(f"ACCESS ON DATABASE {database}")

    @staticmethod
    def _refuse(what: str) -> BoltError:
        return BoltError(FORBIDDEN, f"{what} is not allowed for user '{BACKUP_JOB}' with roles [PUBLIC, "
                                    f"{BACKUP_JOB}].", "Neo.ClientError.Security.Forbidden")

    def run(self, name, cypher, params=None, *, database=None, write=False, bookmarks=(), timeout=None) -> Reply:
        self.sent.append((cypher, database))
        if not self._access(database):
            raise self._refuse(f"Database access to '{database}'")
        return Reply(self._answer(cypher, database))

    def _answer(self, cypher: str, database: str | None) -> list[dict]:
        words = cypher.split()
        if cypher.startswith("CALL dbms.components()"):  # MANUAL["public procedures"]
            return [{"name": "Neo4j Kernel", "versions": ["5.26.30" if self.line == "5" else "4.4.46"],
                     "edition": "enterprise"}]
        if cypher.startswith("CALL dbms.cluster.overview()"):  # 4.4, MANUAL["public procedures"]
            return [{"id": f"id-{n}", "addresses": [], "databases": {}, "groups": []} for n in range(SERVERS)]
        if cypher.startswith("SHOW DATABASES"):
            visible = ["system"] + [db for db in GRAPHS if self._access(db)]  # MANUAL["show databases"]
            rows = [{"name": db, "type": "system" if db == "system" else "standard", "currentStatus": "online",
                     "address": "core-1.prod.neo4j.internal:7687", "role": "primary", "writer": True}
                    for db in visible]
            if "count(DISTINCT name)" in cypher:
                return [{"count": len(visible)}]
            return rows
        if words[:2] == ["SHOW", "SERVERS"]:
            if not self._has("SHOW SERVERS ON DBMS"):  # MANUAL["show servers"]
                raise self._refuse("Show servers")
            return [{"serverId": f"s{n}", "name": f"core-{n + 1}"} for n in range(SERVERS)]
        if words[:2] == ["SHOW", "USERS"]:
            if not self._has("SHOW USER ON DBMS"):  # MANUAL["show user"]
                raise self._refuse("Show user")
            return [{"count": USERS}]
        if words[:2] == ["SHOW", "ROLES"]:
            if not self._has("SHOW ROLE ON DBMS"):  # MANUAL["show role"]
                raise self._refuse("Show role")
            return [{"count": ROLES}]
        if words[:2] == ["SHOW", "ALIASES"]:
            if not self._has("SHOW ALIAS ON DBMS"):  # MANUAL["show alias"]
                raise self._refuse("Show alias")
            return ALIASES
        if cypher.startswith("CREATE ") or " DELETE " in cypher or " SET " in cypher:
            if not self._has("WRITE ON GRAPH *"):  # MANUAL["write"]
                raise self._refuse(f"Create node with labels '{q.PROBE_LABEL}' on database '{database}'")
            return [{"id": "written"}]
        if cypher in (q.COUNT_NODES.cypher, q.COUNT_RELATIONSHIPS.cypher):
            # MANUAL["counts"]: only what the user may traverse is counted; nothing traversable counts 0.
            nodes, relationships = GRAPHS[database or "neo4j"]
            count = nodes if cypher == q.COUNT_NODES.cypher else relationships
            return [{"count": count if self._has("TRAVERSE ON GRAPH * ELEMENTS *") else 0}]
        raise AssertionError(f"the stand-in knows no privilege rule for {cypher!r}: add it here and the privilege "
                             f"to components/job_users.py")


def privileges(grants) -> set[str]:
    return {grant.removeprefix("GRANT ").rsplit(" TO ", 1)[0] for grant in grants}


def settings_for(line: str):
    version = {"5": "5.26.30", "4.4": "4.4.46"}[line]
    return make_settings(version=version, edition="enterprise", coreCount=3, replicaCount=1, tls="required")


def run_the_jobs_reads(standin: ManualPrivilegeStandIn, monkeypatch) -> dict:
    """What backup.py --database '*' and the restore drill ask over Bolt, by their own code, logged in as
    backup_job: the server's facts (version, edition, SHOW DATABASES, the cluster's members) with each standard
    database's counts, system's counts, and the run manifest's aliases."""
    monkeypatch.setattr(server, "NeoTransport", lambda timeout: standin)
    neo4j = LocalNeo4j("bolt+ssc://localhost:7687", Auth(BACKUP_JOB, "job-password"))
    facts = neo4j.facts(None)
    counts = {row["name"]: neo4j.facts(row["name"]).counts for row in facts.databases}
    aliases, read = dbms_backup._aliases(SimpleNamespace(neo4j=neo4j, log=lambda line: None), facts)
    return {"facts": facts, "counts": counts, "aliases": aliases, "aliases_read": read}


def what_it_should_record(line: str) -> dict:
    return {"databases": {"system", *GRAPHS}, "members": SERVERS,
            "graphs": {db: GRAPHS[db] for db in GRAPHS}, "system": (USERS, ROLES), "aliases": ["shop"]}


def recorded(result: dict) -> dict:
    counts = result["counts"]
    return {"databases": set(counts), "members": result["facts"].members,
            "graphs": {db: (c.nodes, c.relationships) for db, c in counts.items() if db != "system"},
            "system": (counts["system"].users, counts["system"].roles) if "system" in counts else None,
            "aliases": [a.name for a in result["aliases"]]}


@pytest.mark.parametrize("line", ["5", "4.4"])
def test_the_backup_jobs_reads_all_succeed_with_exactly_its_grants_on_the_stand_in(line, monkeypatch):
    settings = settings_for(line)
    (user,) = [u for u in job_users(settings, plan_topology(settings)) if u.name == BACKUP_JOB]
    standin = ManualPrivilegeStandIn(privileges(user.grants), line=line)
    result = run_the_jobs_reads(standin, monkeypatch)
    assert result["facts"].error is None and result["facts"].cluster_view_error is None
    assert result["aliases_read"]
    assert recorded(result) == what_it_should_record(line)
    # It asked the members the way its line does: SHOW SERVERS on 5.x, 4.4's procedure (no grant needed).
    assert any(c.startswith("SHOW SERVERS") for c, _ in standin.sent) == (line == "5")


@pytest.mark.parametrize("line", ["5", "4.4"])
def test_every_grant_of_the_backup_job_is_needed(line, monkeypatch):
    """Without any one grant the job is refused a statement or records something false (databases left out,
    counts of 0, no members, no aliases): none is more than the job needs."""
    grants = backup_grants(settings_for(line))
    full = privileges(grants)
    for grant in grants:
        standin = ManualPrivilegeStandIn(full - privileges([grant]), line=line)
        try:
            result = run_the_jobs_reads(standin, monkeypatch)
        except Exception:  # noqa: BLE001 - refused: the grant was needed
            continue
        incomplete = (result["facts"].cluster_view_error is not None or not result["aliases_read"]
                      or recorded(result) != what_it_should_record(line))
        assert incomplete, f"{grant} is granted but the job does as well without it"


def test_the_backup_job_cannot_write_on_the_stand_in(monkeypatch):
    settings = settings_for("5")
    standin = ManualPrivilegeStandIn(privileges(backup_grants(settings)))
    monkeypatch.setattr(server, "NeoTransport", lambda timeout: standin)
    client = standin.client("bolt://localhost:7687", Auth(BACKUP_JOB, "job-password"))
    for database in ("neo4j", "sales"):
        with pytest.raises(BoltError) as refused:
            client.run(q.PROBE_WRITE.name, q.PROBE_WRITE.cypher, {"id": "x", "via": "test"}, database=database,
                       write=True)
        assert refused.value.kind == FORBIDDEN
    # The stand-in does let a role with WRITE write (the refusal is the grant's, not the stand-in's).
    writer = ManualPrivilegeStandIn(privileges(backup_grants(settings)) | {"WRITE ON GRAPH *"})
    assert writer.run(q.PROBE_WRITE.name, q.PROBE_WRITE.cypher, database="neo4j").records


def test_no_backup_job_grant_reads_properties_writes_or_manages():
    # TRAVERSE, never READ or MATCH (which reads properties); SHOW, never a management privilege.
    for line in ("5", "4.4"):
        for grant in backup_grants(settings_for(line)):
            verb = grant.split()[1]
            assert verb in ("ACCESS", "TRAVERSE", "SHOW"), grant

