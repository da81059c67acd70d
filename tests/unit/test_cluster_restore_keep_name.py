"""restore.py --cluster keeps the database's name (issue 20, "Restore keeps names"): on 5.24+ and 2025 the store is
replaced with the recreate procedure, so HAProxy's health checks (/db/neo4j/cluster/...), check and the nightly backup,
which all name `neo4j`, keep working, and the privileges on it stay.

The responses are DERIVED from the Operations Manual (tests/fixtures/enterprise/cluster-restore/derive.py), not
recorded from a live cluster; the planner, executor and command under test are the real ones.
"""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.backup.cluster_execute import execute, read_state
from scripts.neo4j_ops.backup.cluster_plan import ClusterState, Topology, plan_cluster_restore
from scripts.neo4j_ops.backup.cluster_text import describe_outcome, describe_plan
from scripts.neo4j_ops.backup.commands import restore_main
from scripts.neo4j_ops.facts import Counts
from scripts.neo4j_ops.shared.errors import BackupError, UsageError
from scripts.neo4j_ops.shared.versions import LINE_5, LINE_44, LINE_2025, Version
from tests.support.cluster_restore_replay import BUCKET, READ_STATE, RESTORE_FIXTURES, Replay, manifest

SEED = f"s3://{BUCKET}/prod/neo4j/20250131T020000Z/neo4j-2025-01-31T02-00-00.backup"
SHOW = ("SHOW DATABASE `neo4j` YIELD name, address, role, requestedStatus, currentStatus, statusMessage, "
        "lastStartTime")
COUNTS = ["MATCH (n) RETURN count(n) AS count", "MATCH ()-[r]->() RETURN count(r) AS count"]
V526, V2025 = Version.parse("5.26.30"), Version.parse("2025.10.1")


@pytest.mark.parametrize("text, expected", [
    ("4.4.46", None), ("5.23.0", None),
    # 5.x built-in-procedures.adoc, label new-5.24: "`dbms.cluster.recreateDatabase(database :: STRING, options = {}
    # :: MAP)` | Recreates a database while keeping all RBAC settings." (5.x clustering/databases.adoc calls it
    # `dbms.recreateDatabase()`; the procedure reference lists only the cluster name, so that one.)
    ("5.24.0", "dbms.cluster.recreateDatabase"), ("5.26.30", "dbms.cluster.recreateDatabase"),
    ("2025.03.0", "dbms.cluster.recreateDatabase"),
    # dev recreate-database.adoc: "In Neo4j 2025.04, the `dbms.cluster.recreateDatabase()` procedure is deprecated in
    # favor of `dbms.recreateDatabase()`."
    ("2025.04.0", "dbms.recreateDatabase"), ("2025.10.1", "dbms.recreateDatabase"),
])
def test_the_recreate_procedure_is_named_per_release_as_each_manual_lists_it(text, expected):
    version = Version.parse(text)
    assert version.line.recreate_procedure(version) == expected


def keep_name(scenario: str, line=LINE_5, version=V526, m=None, **plan_args):
    replay = Replay(scenario)
    plan = plan_cluster_restore(line, m or manifest(), BUCKET, read_state(replay, "neo4j"), version=version,
                                **plan_args)
    log: list[str] = []
    return replay, plan, log, lambda: execute(plan, replay, log.append, sleep=lambda s: None, timeout=60)


@pytest.mark.parametrize("line, version, scenario, procedure", [
    (LINE_5, V526, "5.26-recreate.json", "dbms.cluster.recreateDatabase"),
    (LINE_2025, V2025, "2025.10-recreate.json", "dbms.recreateDatabase"),
], ids=["5.26", "2025.10"])
def test_a_fresh_deploys_default_database_is_restored_under_its_own_name(line, version, scenario, procedure):
    replay, plan, log, run = keep_name(scenario, line, version)
    assert (plan.swap, plan.name, plan.restored) == ("recreate", "neo4j", "neo4j")
    outcome = run()
    # recreate-database.adoc: "CALL dbms.cluster.recreateDatabase("neo4j", {seedURI: "s3://myBucket/myBackup.backup"})";
    # no topology given: "the database will be recreated with the previous topology".
    call = f"CALL {procedure}('neo4j', {{seedURI: '{SEED}'}})"
    # SHOW DATABASE three times: the old store still online (same lastStartTime) is not taken for the restored one.
    assert replay.cypher == READ_STATE + [call, SHOW, SHOW, SHOW] + COUNTS
    assert [d for c, d in replay.calls if c.startswith("MATCH")] == ["neo4j", "neo4j"]  # counted under its name
    assert [c for c, w in zip(replay.cypher, replay.writes, strict=True) if w] == [call]  # the one change
    assert not [c for c in replay.cypher if c.startswith(("DROP", "CREATE", "ALTER", "STOP", "CALL dbms.setDefault"))]
    assert outcome.counts == Counts(171, 253)
    assert "'neo4j' kept its name and privileges" in describe_outcome(outcome)
    assert any("HAProxy's health checks, check and the nightly backup go on naming it" in n for n in plan.notes)


def test_a_refused_procedure_changes_nothing_and_says_the_database_serves_as_before():
    replay, plan, log, run = keep_name("5.26-recreate-refused.json")
    with pytest.raises(BackupError) as failure:
        run()
    assert replay.cypher[-1].startswith("CALL dbms.cluster.recreateDatabase")  # nothing after, nothing dropped
    message = str(failure.value)
    assert "Permission denied" in message and "'neo4j' serves 'neo4j' as before" in message


def test_a_recreated_store_that_never_starts_is_reported_and_nothing_is_dropped():
    replay, plan, log, run = keep_name("5.26-recreate-seed-fails.json")
    with pytest.raises(BackupError) as failure:
        run()
    assert not [c for c in replay.cypher if c.startswith("DROP")]
    message = str(failure.value)
    assert "Unable to start database" in message and "there is no old store to go back to" in message


def test_a_name_that_is_an_alias_recreates_its_target_and_the_alias_stays():
    rows = Replay("5.26-recreate.json").responses["show_databases"]["records"]
    target = [dict(r, name="sales-2024") for r in rows if r["name"] == "neo4j"]
    state = ClusterState.parse("sales", [{"name": "sales", "database": "sales-2024", "location": "local"}], target)
    plan = plan_cluster_restore(LINE_5, manifest(), BUCKET, state, version=V526)
    assert plan.restored == "sales-2024" and plan.steps[0].cypher.startswith(
        "CALL dbms.cluster.recreateDatabase('sales-2024', ")
    assert not [s for s in plan.steps if "ALIAS" in s.cypher]


def test_an_explicit_topology_is_passed_to_the_procedure():
    # recreate-database.adoc: "`primaries` Number of primary allocations for the recreated database. If you set
    # number of primaries without secondaries, then secondaries is set to `0`."
    replay, plan, *_ = keep_name("5.26-recreate.json", topology=Topology(3, 2))
    assert plan.steps[0].cypher == f"CALL dbms.cluster.recreateDatabase('neo4j', {{seedURI: '{SEED}', primaries: 3, " \
                                   f"secondaries: 2}})"


def test_a_differential_chain_is_staged_before_the_procedure_and_deleted_after():
    replay, plan, *_ = keep_name("5.26-recreate.json", m=manifest("differential"))
    assert [s.kind for s in plan.steps] == ["copy_chain", "cypher", "wait_online", "counts", "delete_chain"]
    assert "/seed-20250131T020000Z/" in plan.steps[1].cypher


@pytest.mark.parametrize("rows, aliases, name, version, message", [
    # "The recreate procedure works only for real user databases and not for composite databases, or the `system`
    # database" (5.x recreate-database.adoc).
    ([{"name": "library", "type": "composite", "address": "a"}], [], "library", V526, "composite"),
    # system is not refused but restored offline on every server (test_cluster_restore_system.py); with no server
    # named to run it on, there is nothing to plan.
    ([{"name": "system", "type": "system", "address": "a"}], [], "system", V526, "no server hosts 'system'"),
    ([], [], "neo4j", V526, "nothing to recreate"),
    ([{"name": "neo4j", "type": "standard", "address": "a"}], [], "neo4j", Version.parse("5.23.0"), "--beside"),
])
def test_what_the_procedure_cannot_recreate_is_refused_with_what_to_do(rows, aliases, name, version, message):
    with pytest.raises(UsageError, match=message):
        plan_cluster_restore(LINE_5, manifest(), BUCKET, ClusterState.parse(name, aliases, rows), version=version)


def test_4_4_is_untouched_by_the_version_argument():
    rows = Replay("4.4-offline.json").responses["show_databases"]["records"]
    plan = plan_cluster_restore(LINE_44, manifest(line="4.4"), BUCKET, ClusterState("neo4j", None, tuple(rows)),
                                version=Version.parse("4.4.46"), cores=("core-1",))
    assert plan.swap == "drop-create"  # DROP / restore on each core / CREATE (test_cluster_restore_44_keep_name.py)


@pytest.mark.parametrize("version, procedure", [("5.26", "dbms.cluster.recreateDatabase"),
                                                ("2025.10", "dbms.recreateDatabase")])
def test_restore_py_dry_run_against_the_recorded_cluster_names_the_database_and_its_statements(version, procedure,
                                                                                                capsys):
    code = restore_main(["--stack", "prod", "--latest", "--cluster", "--dry-run", "--replay",
                         str(RESTORE_FIXTURES / f"{version}-cluster.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"replayed {version}-cluster.json (a recorded scenario, not a live cluster)" in out
    assert "backup 20250131T020000Z into 'neo4j' under its own name, 3 primaries, 1 secondary" in out
    assert f"CALL {procedure}('neo4j', {{seedURI: '{SEED}'}})" in out
    assert SHOW in out
    assert "restore-2025" not in out  # no other name


@pytest.mark.parametrize("argv, message", [
    (["--replay", str(RESTORE_FIXTURES / "5.26-cluster.json"), "--yes"], "only goes with --dry-run"),
    (["--no-swap", "--dry-run"], "--no-swap goes with --beside"),
])
def test_replay_and_no_swap_are_refused_where_they_do_not_apply(argv, message, capsys, tmp_path):
    code = restore_main(["--bucket", BUCKET, "--stack", "prod", "--latest", "--cluster", "--work-dir", str(tmp_path),
                         *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_the_plan_text_says_the_failure_handling_of_a_recreate():
    replay, plan, *_ = keep_name("5.26-recreate.json")
    text = describe_plan(plan)
    assert "on failure before the procedure runs: nothing changed, 'neo4j' keeps serving" in text
    assert "DROP DATABASE" not in text
