"""restore.py --cluster: the plan and its execution against recorded (derived) Enterprise responses.

The responses under tests/fixtures/enterprise/cluster-restore/ are DERIVED from the Operations Manual's
examples (see tests/fixtures/enterprise/README.md), labelled 5.26 / 2025.10 / 4.4; the code under test
is the real planner and executor, replaying them through the runtime's `run(statement, params)` (queries.Run):
each response is found under the statement's name, which for statements built at run time is their text.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from scripts.neo4j_ops.backup import cluster_restore as cr
from scripts.neo4j_ops.backup.cluster_execute import execute, read_state, s3_copier
from scripts.neo4j_ops.backup.cluster_plan import (
    ClusterState,
    Plan,
    Step,
    Topology,
    plan_cluster_restore,
    restored_name,
)
from scripts.neo4j_ops.backup.cluster_text import describe_outcome, describe_plan
from scripts.neo4j_ops.backup.commands import restore_main
from scripts.neo4j_ops.backup.layout import Manifest
from scripts.neo4j_ops.facts import Counts
from scripts.neo4j_ops.queries import SHOW_DATABASES
from scripts.neo4j_ops.shared.errors import BackupError, InterruptedRunError, UsageError
from scripts.neo4j_ops.shared.versions import LINE_5, LINE_44, LINE_2025
from tests.support.cluster_restore_replay import BUCKET, READ_STATE, SHA, Replay, load, manifest, upload_backup

OLD = "neo4j-restore-20250101t020000z"
NEW = "neo4j-restore-20250131t020000z"


def restore(scenario: str, line=LINE_5, m: Manifest | None = None, **plan_args):
    replay = Replay(scenario)
    log: list[str] = []
    state = read_state(replay, "neo4j")
    plan = plan_cluster_restore(line, m or manifest(), BUCKET, state, beside=True, **plan_args)
    return replay, plan, log, lambda: execute(plan, replay, log.append, sleep=lambda s: None, timeout=60)


CREATE = (f"CREATE DATABASE `{NEW}` TOPOLOGY 3 PRIMARIES 1 SECONDARY OPTIONS {{existingData: 'use', seedURI: "
          f"'s3://{BUCKET}/prod/neo4j/20250131T020000Z/neo4j-2025-01-31T02-00-00.backup'}}")
SHOW_NEW = f"SHOW DATABASE `{NEW}` YIELD name, address, role, requestedStatus, currentStatus, statusMessage"
PREPARE = [CREATE, SHOW_NEW, SHOW_NEW,  # starting on two members, then online on all four
           "MATCH (n) RETURN count(n) AS count", "MATCH ()-[r]->() RETURN count(r) AS count"]
DROP_NEW = f"DROP DATABASE `{NEW}` IF EXISTS"
SHOW_44 = "SHOW DATABASE `neo4j` YIELD name, address, role, requestedStatus, currentStatus, error"


@pytest.mark.parametrize("line, scenario", [(LINE_5, "5.26-alias.json"), (LINE_2025, "2025.10-alias.json")],
                         ids=["5.26", "2025.10"])
def test_alias_restore_runs_the_exact_cypher_in_order_from_recorded_enterprise_responses(line, scenario):
    replay, plan, log, run = restore(scenario, line)
    assert plan.swap == "alias" and plan.old == OLD and plan.restored == NEW
    outcome = run()
    # The old target is also the default database: after the alias, the default moves the manual's way.
    assert replay.cypher == READ_STATE + PREPARE + [f"ALTER ALIAS `neo4j` SET DATABASE TARGET `{NEW}`",
                                                    f"STOP DATABASE `{OLD}`", f"CALL dbms.setDefaultDatabase('{NEW}')"]
    # Administration commands go to system; the counts are of the new database, not the old one.
    assert [d for c, d in replay.calls if c.startswith("MATCH")] == [NEW, NEW]
    assert {d for c, d in replay.calls if not c.startswith("MATCH")} == {"system"}
    assert replay.writes == [not c.startswith(("SHOW", "MATCH")) for c in replay.cypher]  # reads stay reads
    assert outcome.counts == Counts(171, 253)
    assert DROP_NEW not in replay.cypher
    text = describe_outcome(outcome)
    assert f"alias 'neo4j' now targets '{NEW}'" in text
    assert f"DROP DATABASE `{OLD}` when satisfied" in text  # kept, and said so
    assert any("online on 4 members" in line for line in log)


def test_an_alias_whose_target_is_not_the_default_moves_and_the_old_target_stops_after():
    replay, plan, log, run = restore("5.26-alias-other-default.json")
    run()
    assert replay.cypher == READ_STATE + PREPARE + [f"ALTER ALIAS `neo4j` SET DATABASE TARGET `{NEW}`",
                                                    f"STOP DATABASE `{OLD}`"]
    assert [s.phase for s in plan.steps][-2:] == ["swap", "after"]


def test_a_failed_default_switch_after_the_alias_moved_points_it_back():
    replay, plan, log, run = restore("5.26-alias-default-switch-fails.json")
    with pytest.raises(BackupError) as failure:
        run()
    assert replay.cypher[-6:] == [f"ALTER ALIAS `neo4j` SET DATABASE TARGET `{NEW}`", f"STOP DATABASE `{OLD}`",
                                  f"CALL dbms.setDefaultDatabase('{NEW}')", f"START DATABASE `{OLD}`",
                                  f"ALTER ALIAS `neo4j` SET DATABASE TARGET `{OLD}`", DROP_NEW]
    assert f"'{OLD}' serves 'neo4j' as before" in str(failure.value)


def test_default_database_restore_stops_the_old_default_then_switches_from_recorded_enterprise_responses():
    replay, plan, log, run = restore("5.26-default-database.json")
    assert plan.swap == "default" and plan.old == "neo4j"
    run()
    assert replay.cypher == READ_STATE + PREPARE + ["STOP DATABASE `neo4j`", f"CALL dbms.setDefaultDatabase('{NEW}')"]
    assert "DROP DATABASE" not in " ".join(replay.cypher)
    assert any("CREATE ALIAS `neo4j` FOR DATABASE" in n for n in plan.notes)  # how the next one is window-free


@pytest.mark.parametrize("scenario, why", [
    ("5.26-seed-never-online.json", "Unable to start database"),
    ("5.26-counts-differ.json", "holds 171 nodes, 250 relationships"),
])
def test_a_restore_failing_before_the_switch_drops_only_the_new_database(scenario, why):
    replay, plan, log, run = restore(scenario)
    with pytest.raises(BackupError) as failure:
        run()
    assert replay.cypher[-1] == DROP_NEW
    assert not [c for c in replay.cypher if c.startswith(("ALTER ALIAS", "STOP DATABASE", "CALL dbms.setDefault"))]
    assert [c for c in replay.cypher if c.startswith("DROP")] == [DROP_NEW]  # never the old one
    message = str(failure.value)
    assert why in message
    assert f"'{OLD}' serves 'neo4j' as before" in message


def test_a_refused_switch_leaves_the_old_database_serving_and_drops_the_new_one():
    replay, plan, log, run = restore("5.26-swap-refused.json")
    with pytest.raises(BackupError) as failure:
        run()
    assert replay.cypher == READ_STATE + PREPARE + [f"ALTER ALIAS `neo4j` SET DATABASE TARGET `{NEW}`", DROP_NEW]
    assert "Permission denied for ALTER ALIAS" in str(failure.value)
    assert f"STOP DATABASE `{OLD}`" not in replay.cypher


def test_a_failed_default_switch_starts_the_old_default_again_before_dropping_the_new_one():
    replay, plan, log, run = restore("5.26-default-switch-fails.json")
    with pytest.raises(BackupError) as failure:
        run()
    assert replay.cypher[-4:] == ["STOP DATABASE `neo4j`", f"CALL dbms.setDefaultDatabase('{NEW}')",
                                  "START DATABASE `neo4j`", DROP_NEW]
    assert "rolled back: START DATABASE `neo4j`; " + DROP_NEW in str(failure.value)


def test_an_interrupted_restore_still_drops_the_new_database():
    replay, plan, log, _ = restore("5.26-alias.json")

    def interrupted(statement, params=None):
        if statement.cypher == SHOW_NEW:
            raise KeyboardInterrupt
        return replay(statement, params)

    with pytest.raises(InterruptedRunError, match="serves 'neo4j' as before"):  # exit 130, after the clean-up
        execute(plan, interrupted, log.append, sleep=lambda s: None)
    assert replay.cypher[-1] == DROP_NEW


def test_a_seed_that_stays_starting_times_out_and_is_dropped():
    replay, plan, log, _ = restore("5.26-alias.json")
    starting = replay.responses[SHOW_NEW][0]
    replay.responses[SHOW_NEW] = [starting]
    clock = iter(range(0, 10_000, 10))
    with pytest.raises(BackupError, match="not online on 4 members within 60s"):
        execute(plan, replay, log.append, sleep=lambda s: None, clock=lambda: next(clock), timeout=60)
    assert replay.cypher[-1] == DROP_NEW


def test_online_in_the_wrong_roles_is_not_done():
    replay, plan, log, _ = restore("5.26-alias.json")
    online = replay.responses[SHOW_NEW][1]["records"]
    replay.responses[SHOW_NEW] = {"records": [dict(r, role="primary") for r in online]}  # 4 primaries, no secondary
    clock = iter(range(0, 10_000, 10))
    with pytest.raises(BackupError, match="4 of 4 online, 4 of 3 primaries and 0 of 1 secondaries"):
        execute(plan, replay, log.append, sleep=lambda s: None, clock=lambda: next(clock), timeout=60)
    assert replay.cypher[-1] == DROP_NEW


def test_inexact_counts_are_accepted_with_a_note():
    replay, plan, log, run = restore("5.26-counts-differ.json", m=manifest(exact=False))
    run()
    assert any("recorded them as inexact" in line for line in log)


def test_a_failure_after_the_switch_keeps_the_new_database_and_says_what_is_left():
    replay, plan, log, _ = restore("5.26-alias-other-default.json")
    replay.responses[f"STOP DATABASE `{OLD}`"] = {"error": {"kind": "query", "message": "timed out"}}
    with pytest.raises(BackupError) as failure:
        execute(plan, replay, log.append, sleep=lambda s: None)
    assert DROP_NEW not in replay.cypher
    assert f"'{NEW}' serves 'neo4j' now" in str(failure.value) and f"STOP DATABASE `{OLD}`" in str(failure.value)


def test_differential_chain_is_staged_in_one_folder_and_seeded_from_its_last_artifact():
    replay = Replay("5.26-alias.json")
    plan = plan_cluster_restore(LINE_5, manifest("differential"), BUCKET, read_state(replay, "neo4j"), beside=True)
    stage = next(s for s in plan.steps if s.kind == "copy_chain")
    folder = "prod/neo4j/seed-20250131T020000Z/"
    assert stage.copies == (
        ("prod/neo4j/20250129T020000Z/neo4j-2025-01-29T02-00-00.backup", folder + "neo4j-2025-01-29T02-00-00.backup"),
        ("prod/neo4j/20250130T020000Z/neo4j-2025-01-30T02-00-00.backup", folder + "neo4j-2025-01-30T02-00-00.backup"),
        ("prod/neo4j/20250131T020000Z/neo4j-2025-01-31T02-00-00.backup", folder + "neo4j-2025-01-31T02-00-00.backup"))
    assert plan.seed_uri == f"s3://{BUCKET}/{folder}neo4j-2025-01-31T02-00-00.backup"
    assert [s.kind for s in plan.steps][:2] == ["copy_chain", "cypher"]
    assert plan.steps[-1].kind == "delete_chain"
    copied: list[tuple[str, bool]] = []
    replay.responses[SHOW_NEW] = {"records": []}  # never online: the staged copy is deleted too
    clock = iter(range(0, 10_000, 100))
    with pytest.raises(BackupError):
        execute(plan, replay, lambda m: None, copier=lambda step, delete: copied.append((step.kind, delete)),
                   sleep=lambda s: None, clock=lambda: next(clock), timeout=60)
    assert copied == [("copy_chain", False), ("copy_chain", True)]


def test_s3_copier_copies_server_side_and_deletes_only_the_staged_keys():
    calls = []
    s3 = SimpleNamespace(copy_object=lambda **kw: calls.append(("copy", kw)),
                         delete_object=lambda **kw: calls.append(("delete", kw)))
    step = Step("copy_chain", "", copies=(("a/1", "seed/1"),))
    work = s3_copier(s3, BUCKET, lambda m: None)
    work(step, False)
    work(step, True)
    assert calls == [("copy", {"Bucket": BUCKET, "Key": "seed/1", "CopySource": {"Bucket": BUCKET, "Key": "a/1"}}),
                     ("delete", {"Bucket": BUCKET, "Key": "seed/1"})]


def test_dry_run_prints_every_step_its_cypher_and_what_serves():
    replay, plan, log, _ = restore("5.26-alias.json")
    text = describe_plan(plan)
    for cypher in (CREATE, SHOW_NEW, f"ALTER ALIAS `neo4j` SET DATABASE TARGET `{NEW}`", f"STOP DATABASE `{OLD}`"):
        assert cypher in text
    assert f"serving meanwhile: '{OLD}' (through alias 'neo4j') until the alias points at '{NEW}'" in text
    assert f"on failure before the switch: {DROP_NEW}, nothing else; '{OLD}' keeps serving" in text
    assert replay.cypher == READ_STATE  # planning only reads
    json.dumps(plan.to_json())


def test_a_leftover_of_an_earlier_run_is_dropped_first_and_an_applied_backup_is_nothing_to_do():
    replay = Replay("5.26-alias.json")
    rows = list(replay.responses["show_databases"]["records"])
    leftover = [dict(r, name=NEW, aliases=[], default=False, currentStatus="offline") for r in rows[:4]]
    state = ClusterState.parse("neo4j", [{"name": "neo4j", "database": OLD, "location": "local"}],
                                  rows + leftover)
    plan = plan_cluster_restore(LINE_5, manifest(), BUCKET, state, beside=True)
    assert plan.steps[0].cypher == DROP_NEW and plan.steps[1].cypher == CREATE
    done = ClusterState.parse("neo4j", [{"name": "neo4j", "database": NEW, "location": "local"}], leftover)
    with pytest.raises(UsageError, match="already restored"):
        plan_cluster_restore(LINE_5, manifest(), BUCKET, done, beside=True)


def test_a_plain_database_that_is_not_the_default_needs_no_swap():
    rows = [{"name": "sales", "address": "core-1:7687", "role": "primary", "default": False}]
    state = ClusterState.parse("sales", [], rows)
    with pytest.raises(UsageError, match="--no-swap"):
        plan_cluster_restore(LINE_5, manifest(), BUCKET, state, beside=True)
    plan = plan_cluster_restore(LINE_5, manifest(), BUCKET, state, swap=False, beside=True)
    assert plan.swap == "none" and plan.topology == Topology(1, 0)
    assert [s.phase for s in plan.steps] == ["prepare"] * 3
    assert "TOPOLOGY 1 PRIMARY 0 SECONDARY" in plan.steps[0].cypher


def test_the_current_topology_comes_from_the_requested_counts_when_the_server_gives_them():
    rows = [{"name": "neo4j", "address": f"core-{n}:7687", "role": "unknown" if n == 3 else "primary",
             "requestedPrimariesCount": 3, "requestedSecondariesCount": 2, "currentPrimariesCount": 2,
             "currentSecondariesCount": 0} for n in (1, 2, 3)]
    assert ClusterState("neo4j", None, tuple(rows)).topology_of("neo4j") == Topology(3, 2)
    rows = [dict(r, requestedPrimariesCount=None, requestedSecondariesCount=None) for r in rows]
    assert ClusterState("neo4j", None, tuple(rows)).topology_of("neo4j") == Topology(2, 0)
    rows = [{k: v for k, v in r.items() if "Count" not in k} for r in rows]
    assert ClusterState("neo4j", None, tuple(rows)).topology_of("neo4j") == Topology(3, 0)  # by roles


def test_topology_is_the_old_databases_unless_given():
    replay, plan, *_ = restore("5.26-alias.json", topology=Topology(3, 2))
    assert "TOPOLOGY 3 PRIMARIES 2 SECONDARIES" in plan.steps[0].cypher
    with pytest.raises(UsageError, match="--primaries"):
        plan_cluster_restore(LINE_5, manifest(), BUCKET, ClusterState.parse("neo4j", [], []), beside=True)


def test_a_dump_seeds_from_its_own_object_and_a_4_4_backup_cannot_seed_5():
    replay = Replay("5.26-alias.json")
    state = read_state(replay, "neo4j")
    plan = plan_cluster_restore(LINE_5, manifest("dump"), BUCKET, state, beside=True)
    assert plan.seed_uri == f"s3://{BUCKET}/prod/neo4j/20250131T020000Z/neo4j.dump"
    with pytest.raises(UsageError, match="4.4 backup folder"):
        plan_cluster_restore(LINE_5, manifest(line="4.4"), BUCKET, state, beside=True)


@pytest.mark.parametrize("database, expected", [
    ("neo4j", "neo4j-restore-20250131t020000z"),
    ("Sales_EU", "sales-eu-restore-20250131t020000z"),
    ("x" * 60, "x" * 38 + "-restore-20250131t020000z"),  # 63 characters at most
])
def test_restored_names_follow_the_database_naming_rules(database, expected):
    name = restored_name(database, "20250131T020000Z")
    assert name == expected and 3 <= len(name) <= 63


def test_4_4_plan_is_the_offline_procedure_one_core_at_a_time():
    replay = Replay("4.4-offline.json")
    rows = replay(SHOW_DATABASES)
    state = ClusterState("neo4j", None, tuple(rows))
    cores = ("core-1.prod.neo4j.internal", "core-2.prod.neo4j.internal", "core-3.prod.neo4j.internal")
    plan = plan_cluster_restore(LINE_44, manifest(line="4.4"), BUCKET, state, cores=cores, offline=True)
    assert plan.swap == "offline"
    assert plan.steps[0].kind == "note" and "STOPS database 'neo4j' on every core" in plan.steps[0].description
    admin = [(s.server.split(".")[0], s.command) for s in plan.steps if s.kind == "admin"]
    work = "/var/lib/neo4j/data/backup-staging/neo4j-cluster-restore-neo4j-20250131T020000Z"
    assert [a for a in admin if a[0] == "core-2"] == [
        ("core-2", "systemctl stop neo4j"),
        ("core-2", f"mkdir -p {work} && aws s3 cp s3://{BUCKET}/prod/neo4j/20250131T020000Z/neo4j-backup.tar "
                   f"{work}/neo4j-backup.tar && echo '{SHA}  {work}/neo4j-backup.tar' | sha256sum -c - && "
                   f"mkdir -p {work}/unpacked && tar -xf {work}/neo4j-backup.tar -C {work}/unpacked"),
        ("core-2", "neo4j-admin unbind"),
        ("core-2", f"neo4j-admin restore --from={work}/unpacked/neo4j --database=neo4j --force"),
        ("core-2", "systemctl start neo4j")]
    order = [f"{c}:{cmd.split()[0] if not cmd.startswith('mkdir') else cmd.split('&&')[1].split()[0]}"
             for c, cmd in admin]
    assert order[:4] == ["core-1:systemctl", "core-2:systemctl", "core-3:systemctl", "core-1:neo4j-admin"]  # stops
    assert "dump --database=neo4j" in admin[3][1]  # the safety dump, on the first core, before anything
    assert order[-3:] == ["core-1:systemctl", "core-2:systemctl", "core-3:systemctl"]  # all started at the end
    with pytest.raises(UsageError, match="no core hosts"):
        plan_cluster_restore(LINE_44, manifest(line="4.4"), BUCKET, state, offline=True)


def test_4_4_checks_run_from_recorded_enterprise_4_4_responses():
    replay = Replay("4.4-offline.json")
    state = ClusterState("neo4j", None, tuple(replay(SHOW_DATABASES)))
    plan = plan_cluster_restore(LINE_44, manifest(line="4.4"), BUCKET, state, cores=("a", "b", "c"), offline=True)
    with pytest.raises(UsageError, match="--verify"):
        execute(plan, replay, print)
    checks = Plan(plan.line, plan.name, plan.backup, plan.restored, plan.old, "none", plan.seed_uri,
                     plan.topology, tuple(s for s in plan.steps if s.kind in ("wait_online", "counts")),
                     plan.serving, (), plan.counts)
    outcome = execute(checks, replay, print, sleep=lambda s: None)
    show = "SHOW DATABASE `neo4j` YIELD name, address, role, requestedStatus, currentStatus, error"
    assert replay.cypher[1:] == [show, show, "MATCH (n) RETURN count(n) AS count",
                                 "MATCH ()-[r]->() RETURN count(r) AS count"]
    assert outcome.counts == Counts(171, 253)


def test_a_backup_whose_check_failed_is_refused_before_anything():
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="neo4j", uri="neo4j://x", auth=None)
    failed = SimpleNamespace(manifest=SimpleNamespace(check="failed", timestamp="20250131T020000Z"))
    with pytest.raises(BackupError, match="consistency check failed"):
        cr.verify_backup(opts, None, failed)
    opts.dry_run = True
    assert "would download" in cr.verify_backup(opts, None, SimpleNamespace(manifest=manifest()))
    opts.sha_check = False
    with pytest.raises(UsageError, match="not consistency-checked .check: skipped.*drop --skip-sha-check"):
        cr.verify_backup(opts, None, SimpleNamespace(manifest=manifest()))  # made before checks: skipped
    checked = Manifest(**{**manifest().__dict__, "check": "passed"})
    assert "consistency check passed" in cr.verify_backup(opts, None, SimpleNamespace(manifest=checked))


@pytest.mark.parametrize("argv, message", [
    (["--cluster"], "add --yes to confirm, or --dry-run"),
    (["--cluster", "--verify-only"], "do not go together"),
])
def test_cluster_restore_options_are_checked_before_anything(argv, message, capsys, tmp_path):
    code = restore_main(["--bucket", BUCKET, "--stack", "prod", "--latest", "--work-dir", str(tmp_path), *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def recorded_cluster(scenario: str):
    """A RecordedTransport answering as core-1 of the 5.26 cluster: who it is (dbms.components, SHOW DATABASES,
    SHOW SERVERS for gather) and the scenario's cluster-restore statements, filed as the runtime sends them."""
    from scripts.neo4j_ops.recorded import RecordedTransport

    responses = dict(load(scenario)["responses"])
    responses.update({
        "components": {"records": [{"name": "Neo4j Kernel", "versions": ["5.26.30"], "edition": "enterprise"}]},
        "show_servers": {"records": []},
    })
    return RecordedTransport({"endpoints": {"core-1": {"uri": "neo4j://core-1.prod.neo4j.internal:7687",
                                                       "responses": responses}}})


def test_the_command_verifies_the_backup_then_restores_from_recorded_enterprise_responses(restore_s3, tmp_path):
    upload_backup(restore_s3, manifest(), b"a 5.26 full backup artifact")
    transport = recorded_cluster("5.26-alias.json")
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="neo4j",
                                    uri="neo4j://core-1.prod.neo4j.internal:7687", auth=None, region="us-east-1",
                                    work_dir=tmp_path, timeout=60, poll=0, log=lambda m: None, beside=True)
    result = cr.run_cluster_restore(opts, transport=transport)
    restore = [c.name for c in transport.calls].index("show_aliases")  # after gather's who-is-it statements
    sent = transport.calls[restore:]
    assert [c.cypher for c in sent] == READ_STATE + PREPARE + [f"ALTER ALIAS `neo4j` SET DATABASE TARGET `{NEW}`",
                                                             f"STOP DATABASE `{OLD}`",
                                                             f"CALL dbms.setDefaultDatabase('{NEW}')"]
    # What changes the cluster goes as a write (to the system leader); SHOW and the counts as reads.
    assert [c.write for c in sent] == [not c.cypher.startswith(("SHOW", "MATCH")) for c in sent]
    assert result["verified"].startswith("every file's size and sha256 match the manifest")
    assert list(tmp_path.iterdir()) == []  # the verification download is removed
    assert f"restored backup 20250131T020000Z into '{NEW}'" in result["summary"]
    assert not transport.missing


def test_the_command_refuses_a_corrupted_backup_before_sending_anything_that_changes(restore_s3, tmp_path):
    m = upload_backup(restore_s3, manifest(), b"a 5.26 full backup artifact")
    from scripts.neo4j_ops.backup.layout import object_key

    restore_s3.put_object(Bucket=BUCKET, Key=object_key("prod", "neo4j", m.timestamp, m.files[0].name),
                  Body=b"a 5.26 full backup artefact")  # same size, other bytes
    transport = recorded_cluster("5.26-alias.json")
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="neo4j",
                                    uri="neo4j://core-1.prod.neo4j.internal:7687", auth=None, region="us-east-1",
                                    work_dir=tmp_path, log=lambda m: None)
    with pytest.raises(BackupError, match="sha256"):
        cr.run_cluster_restore(opts, transport=transport)
    assert not [c for c in transport.calls if not c.cypher.startswith(("SHOW", "CALL dbms.components"))]


def test_dry_run_through_restore_py_prints_the_plan_and_changes_nothing(restore_s3, tmp_path, monkeypatch, capsys):
    upload_backup(restore_s3, manifest(), b"a 5.26 full backup artifact")
    transport = recorded_cluster("5.26-default-database.json")
    monkeypatch.setattr("scripts.neo4j_ops.bolt.NeoTransport", lambda **kw: transport)
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    code = restore_main(["--bucket", BUCKET, "--stack", "prod", "--region", "us-east-1", "--latest", "--cluster",
                         "--dry-run", "--beside", "--uri", "neo4j://core-1.prod.neo4j.internal:7687", "--work-dir",
                         str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("dry run, nothing changed\ncluster restore plan (Neo4j 5): backup 20250131T020000Z into "
                          f"'{NEW}' for 'neo4j', 3 primaries, 1 secondary")
    for text in (CREATE, SHOW_NEW, "STOP DATABASE `neo4j`", f"CALL dbms.setDefaultDatabase('{NEW}')",
                 "serving meanwhile: 'neo4j' until it is stopped for the switch",
                 "note: clients that name 'neo4j'"):
        assert text in out
    assert READ_STATE[0] in [c.cypher for c in transport.calls]  # the plan is of the cluster's own view
    assert not [c.cypher for c in transport.calls if c.write]  # planning only reads


def test_4_4_through_the_command_prints_the_per_member_plan_refuses_without_offline_ok_and_verifies(restore_s3,
                                                                                                    tmp_path):
    from scripts.neo4j_ops.recorded import RecordedTransport

    upload_backup(restore_s3, manifest(line="4.4"), b"a 4.4 backup folder, as a tar")
    responses = dict(load("4.4-offline.json")["responses"])
    rows = responses["show_databases"]["records"]
    replica = dict(rows[0], address="replica-1.prod.neo4j.internal:7687", role="read_replica")
    responses.update({
        "components": {"records": [{"name": "Neo4j Kernel", "versions": ["4.4.46"], "edition": "enterprise"}]},
        "show_databases": {"records": rows + [replica]}, "cluster_overview": {"records": []}})
    responses[SHOW_44] = [*responses[SHOW_44][:-1], {"records": responses[SHOW_44][-1]["records"] + [replica]}]
    transport = RecordedTransport({"endpoints": {"core-1": {"uri": "neo4j://core-1.prod.neo4j.internal:7687",
                                                            "responses": responses}}})
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="neo4j",
                                    uri="neo4j://core-1.prod.neo4j.internal:7687", auth=None, region="us-east-1",
                                    work_dir=tmp_path, poll=0, log=lambda m: None, offline_44=True)
    with pytest.raises(UsageError, match="--offline-ok"):
        cr.run_cluster_restore(opts, transport=transport)
    opts.offline_ok = True
    printed = cr.run_cluster_restore(opts, transport=transport)
    assert printed["summary"].startswith("run these on the servers, in order (nothing was changed from here)")
    steps = printed["cluster"]["steps"]
    assert [s["server"].split(".")[0] for s in steps if s.get("command") == "systemctl start neo4j"] == \
        ["core-1", "core-2", "core-3", "replica-1"]  # the cores first, the replica once they are up
    assert " --region us-east-1 s3://" in next(s["command"] for s in steps if "aws s3 cp" in s.get("command", ""))
    assert not [c for c in transport.calls if not c.cypher.startswith(("SHOW", "CALL dbms.c"))]
    opts.verify_restored = True
    verified = cr.run_cluster_restore(opts, transport=transport)
    assert "online on 4 members and holds 171 nodes, 253 relationships" in verified["summary"]
