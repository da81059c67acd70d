"""restore.py --cluster against a real Neo4j Community 5.26 server and moto's S3 server.

Community has no CREATE DATABASE, aliases or seed from URI (all Enterprise), so what a real server can show:
every statement the plan sends parses (Community answers "Unsupported administration command", never a
syntax error), SHOW DATABASE and the counts are read from the real server, a restore the server refuses
half-way leaves the database serving with its counts, and the command refuses Community before it changes
anything. The Enterprise behaviour itself is in test_cluster_restore_recorded.py.

The server is the session's shared 5.26 one (tests/integration/conftest.py `neo4j_server`): nothing here
changes it (Community refuses every administration command the restore sends), and the nodes a test
creates are deleted when it ends.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace

import pytest

from scripts.neo4j_ops.backup import cluster_restore as cr
from scripts.neo4j_ops.backup.cluster_execute import check_counts, count, execute
from scripts.neo4j_ops.backup.cluster_plan import ClusterState, Topology, plan_cluster_restore
from scripts.neo4j_ops.backup.layout import FileEntry, Manifest, object_key
from scripts.neo4j_ops.backup.s3 import put_manifest
from scripts.neo4j_ops.bolt import Auth, BoltError, NeoTransport, statement_runner
from scripts.neo4j_ops.facts import Counts
from scripts.neo4j_ops.queries import SHOW_ALIASES, SHOW_DATABASES, Named, Run
from scripts.neo4j_ops.shared.errors import BackupError, UsageError
from scripts.neo4j_ops.shared.versions import LINES, Version
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.integration

STAMP = "20250131T020000Z"
NEW = "neo4j-restore-20250131t020000z"


# 5.26 only (the session's shared server): 2025's statements are the same text.
@pytest.fixture(scope="module", params=["5"], ids=["5.26"])
def server(request, neo4j_server) -> tuple[str, str]:
    assert neo4j_server.line == request.param
    return request.param, neo4j_server.uri


@pytest.fixture
def run(server) -> Iterator[Run]:
    transport = NeoTransport(timeout=30)
    try:
        yield statement_runner(transport.client(server[1], Auth("neo4j", PASSWORD)), timeout=60)
    finally:
        transport.close()


def manifest(counts: Counts, sha: str = "ab" * 32, size: int = 1000) -> Manifest:
    return Manifest(stack="prod", database="neo4j", timestamp=STAMP, backup_type="full",
                    method="neo4j-admin database backup", neo4j_version="5.26.30", edition="enterprise",
                    version_line="5", files=(FileEntry("neo4j-2025-01-31T02-00-00.backup", size, sha),),
                    counts=counts, counts_exact=True, started=STAMP, completed=STAMP, host="replica-1")


def real_state(run: Run) -> ClusterState:
    # SHOW ALIASES is Enterprise: Community answers "Unsupported administration command" (asserted below).
    return ClusterState.parse("neo4j", [], run(SHOW_DATABASES))


def test_every_statement_of_the_plan_parses_on_a_real_server(server, run):
    line = LINES[server[0]]
    state = real_state(run)
    assert state.is_default and state.topology_of("neo4j") == Topology(1, 0)  # read from the real server
    default = plan_cluster_restore(line, manifest(Counts(0, 0)), "acme-neo4j-backups", state, beside=True)
    aliased = plan_cluster_restore(line, manifest(Counts(0, 0)), "acme-neo4j-backups",
                                   ClusterState("neo4j", "neo4j", state.rows), beside=True)
    # The default restore keeps the name: the recreate procedure of the server's own release, and the one of the
    # other name (5.26: dbms.cluster.recreateDatabase; 2025.04+: dbms.recreateDatabase), with a topology too.
    kept = [plan_cluster_restore(line, manifest(Counts(0, 0)), "acme-neo4j-backups", state,
                                 version=Version.parse(v), topology=t)
            for v in ("5.26.0", "2025.10.0") for t in (None, Topology(3, 1))]
    plans = (default, aliased, *kept)
    statements = {s.cypher for p in plans for s in p.steps if s.cypher and s.database == "system"}
    statements |= {s.undo for p in plans for s in p.steps if s.undo}
    assert {s.split("(")[0] for s in statements if "recreateDatabase" in s} == {
        "CALL dbms.cluster.recreateDatabase", "CALL dbms.recreateDatabase"}
    statements |= {f"DROP DATABASE `{NEW}` IF EXISTS", SHOW_ALIASES.cypher}
    assert any(s.startswith("CREATE DATABASE") for s in statements)
    assert any(s.startswith("ALTER ALIAS") for s in statements)
    answered = {}
    for cypher in sorted(statements):
        try:
            answered[cypher] = run(Named.built(cypher, "system", write=not cypher.startswith("SHOW")))
        except BoltError as error:
            answered[cypher] = error.code
    # The control: Community does parse administration commands first, so a malformed one is a syntax error.
    with pytest.raises(BoltError) as malformed:
        run(Named.built(f"CREATE DATABASE `{NEW}` TOPOLOGY 1 PRIMARIES OPTIONS {{seedURI: }}", "system"))
    assert malformed.value.code == "Neo.ClientError.Statement.SyntaxError"
    for cypher, answer in answered.items():
        assert answer != "Neo.ClientError.Statement.SyntaxError", cypher
        if cypher.startswith(("CREATE", "DROP", "ALTER", "STOP", "START", "SHOW ALIASES")):
            # Enterprise-only, so refused: but only after it parsed.
            assert answer == "Neo.ClientError.Statement.UnsupportedAdministrationCommand" or \
                answer == "Neo.ClientError.Statement.NotSystemDatabaseError", (cypher, answer)
        elif cypher.startswith(("CALL dbms.setDefaultDatabase", "CALL dbms.cluster.recreateDatabase",
                                "CALL dbms.recreateDatabase")):
            # Enterprise procedures: Community parses the CALL and finds no such procedure.
            assert answer == "Neo.ClientError.Procedure.ProcedureNotFound", (cypher, answer)
        elif cypher.startswith("SHOW DATABASE `neo4j`"):
            assert [r["name"] for r in answer] == ["neo4j"] and answer[0]["lastStartTime"] is not None, cypher
        else:
            assert answer == [], (cypher, answer)  # SHOW DATABASE of a database that is not there


@pytest.fixture
def movie(run) -> Iterator[None]:
    """Two nodes and a relationship in `neo4j` of the shared server, deleted when the test ends."""
    run(Named.built("CREATE (:Movie {title: 'The Matrix', probe: 'cluster-restore'})-[:ACTED_IN]->"
                    "(:Person {name: 'Keanu', probe: 'cluster-restore'})", "neo4j"))
    yield
    run(Named.built("MATCH (n {probe: 'cluster-restore'}) DETACH DELETE n", "neo4j"))


def test_a_restore_the_server_refuses_half_way_leaves_the_database_serving_with_its_counts(run, movie):
    before = count(run, "neo4j")
    assert before.nodes >= 2 and before.relationships >= 1
    plan = plan_cluster_restore(LINES["5"], manifest(before), "acme-neo4j-backups", real_state(run), beside=True)
    log: list[str] = []
    with pytest.raises(BackupError) as failure:
        execute(plan, run, log.append, sleep=lambda s: None, timeout=5)
    message = str(failure.value)
    assert "Unsupported administration command: CREATE DATABASE" in message
    assert "'neo4j' serves 'neo4j' as before" in message
    assert f"DROP DATABASE `{NEW}` IF EXISTS FAILED" in message  # said, not hidden: Community cannot drop either
    rows = [r for r in run(SHOW_DATABASES) if r["name"] in ("neo4j", NEW)]
    assert [(r["name"], r["currentStatus"], r["default"]) for r in rows] == [("neo4j", "online", True)]
    assert count(run, "neo4j") == before
    check_counts(plan, count(run, "neo4j"), log.append)  # the real count check passes on equal counts
    with pytest.raises(BackupError, match="the restore is not the backup"):
        check_counts(plan, Counts(before.nodes + 1, before.relationships), log.append)


def test_a_recreate_the_server_refuses_changes_nothing_and_the_database_serves_with_its_counts(run, movie):
    before = count(run, "neo4j")
    plan = plan_cluster_restore(LINES["5"], manifest(before), "acme-neo4j-backups", real_state(run),
                                version=Version.parse("5.26.0"))
    with pytest.raises(BackupError) as failure:
        execute(plan, run, lambda m: None, sleep=lambda s: None, timeout=5)
    message = str(failure.value)
    assert "dbms.cluster.recreateDatabase" in message and "'neo4j' serves 'neo4j' as before" in message
    assert "DROP DATABASE" not in message  # a recreate plan never drops anything
    assert count(run, "neo4j") == before


def test_the_command_refuses_community_before_changing_anything(server, moto_endpoint, aws_env, tmp_path):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"cluster-restore-{server[0]}"
    s3.create_bucket(Bucket=bucket)
    body = b"not really a backup"
    m = manifest(Counts(2, 1), hashlib.sha256(body).hexdigest(), len(body))
    s3.put_object(Bucket=bucket, Key=object_key("prod", "neo4j", STAMP, m.files[0].name), Body=body)
    put_manifest(s3, bucket, m)
    before = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    opts = cr.ClusterRestoreOptions(bucket=bucket, stack="prod", database="neo4j", uri=server[1],
                                    auth=Auth("neo4j", PASSWORD), endpoint_url=moto_endpoint, region="us-east-1",
                                    work_dir=tmp_path, log=lambda m: None)
    with pytest.raises(UsageError, match="is community: --cluster needs Enterprise"):
        cr.run_cluster_restore(opts)
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == before
    assert list(tmp_path.iterdir()) == []


def test_the_system_restores_checks_run_on_a_real_server(server, run):
    """restore.py --cluster --database system sends two statements over Bolt, after the servers are up again: the
    plan's SHOW DATABASE `system` (online on every server) and system's counts (which refuse MATCH on every line)."""
    from scripts.neo4j_ops.backup.cluster_plan import plan_system_restore
    from scripts.neo4j_ops.facts import SystemCounts

    line = LINES[server[0]]
    m = replace(manifest(Counts(0, 0)), database="system")
    plan = plan_system_restore(line, m, "acme-neo4j-backups", ("localhost",))
    show = next(s for s in plan.steps if s.kind == "wait_online")
    rows = run(Named.built(show.cypher, "system", write=False))
    assert [(r["name"], r["currentStatus"]) for r in rows] == [("system", "online")]
    # system's users and databases, counted as the check counts them; roles too on Enterprise, which a cluster is:
    # Community refuses SHOW ROLES as Enterprise-only, after parsing it.
    from scripts.neo4j_ops.facts import count_system

    found = count_system(run, enterprise=False)
    assert isinstance(found, SystemCounts) and found.users >= 1 and found.databases == 2
    with pytest.raises(BoltError) as refused:
        count(run, "system")
    assert refused.value.code == "Neo.ClientError.Statement.UnsupportedAdministrationCommand"


def test_the_catalogue_statements_of_restore_all_parse_on_a_real_server(run):
    """restore.py --cluster --all recreates composites and aliases with these statements (the password a Bolt
    parameter): Community parses each and refuses it as Enterprise-only, never as a syntax error."""
    from scripts.neo4j_ops.backup.cluster_all import catalogue_steps
    from scripts.neo4j_ops.backup.run_manifest import Alias, Composite, RunManifest

    m = RunManifest(stack="prod", timestamp=STAMP, started=STAMP, completed=STAMP, host="h", neo4j_version="5.26.30",
                    edition="enterprise", databases=(), composites=(Composite("library", ("library.sci-fi",)),),
                    aliases=(Alias("library.sci-fi", "sci-fi-books", "remote", composite="library",
                                   url="neo4j+s://other:7687", user="alice",
                                   driver={"connection_timeout": 60, "ssl_enforced": True,
                                           "connection_pool_max_size": 10}, properties={"team": "books"}),
                             Alias("films", "neo4j", "local", properties={"team": "movies", "n": 1})))
    steps = catalogue_steps(m)
    assert len(steps) == 3
    for step in steps:
        with pytest.raises(BoltError) as refused:
            run(Named.built(step.cypher, "system"), {"password": "not-a-real-one"} if step.secret_env else None)
        assert refused.value.code == "Neo.ClientError.Statement.UnsupportedAdministrationCommand", (step.cypher,
                                                                                                   refused.value)
