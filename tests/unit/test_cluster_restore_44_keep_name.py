"""restore.py --cluster --database <db> on 4.4: the database keeps its name and its privileges, no member is stopped
or unbound. Operations Manual 4.4, clustering/seed.adoc, "Restore a database on each Core instance" ("These scenarios
are useful when you want to restore a database in a running cluster"): DROP DATABASE, `neo4j-admin restore` on each
core, CREATE DATABASE, online on all members; around it the privileges naming the database are read before the drop
(SHOW PRIVILEGES AS COMMANDS) and granted again, and the backup is downloaded and verified on every core first.

The cluster's answers are DERIVED (tests/fixtures/enterprise/cluster-restore/derive.py, 4.4-drop-create.json), not
recorded from a live 4.4 Enterprise cluster; the remote shell is a fake recording each command; the planner, the
executor and the command are the real ones.
"""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.backup import cluster_restore as cr
from scripts.neo4j_ops.backup.cluster_plan import ClusterState, plan_cluster_restore, privileges_naming
from scripts.neo4j_ops.backup.cluster_text import describe_plan
from scripts.neo4j_ops.backup.remote import run_drop_create_44, stage
from scripts.neo4j_ops.bolt import BoltError
from scripts.neo4j_ops.queries import SHOW_DATABASES
from scripts.neo4j_ops.shared.errors import BackupError, UsageError
from scripts.neo4j_ops.shared.versions import LINE_44
from tests.support.cluster_restore_replay import BUCKET, SHA, Replay, load, manifest, upload_backup

SCENARIO = "4.4-drop-create.json"
CORES = ("core-1.prod.neo4j.internal", "core-2.prod.neo4j.internal", "core-3.prod.neo4j.internal")
REPLICA = "replica-1.prod.neo4j.internal"
WORK = "/var/lib/neo4j/data/backup-staging/neo4j-cluster-restore-neo4j-20250131T020000Z"
DROP, CREATE = "DROP DATABASE `neo4j` DUMP DATA WAIT", "CREATE DATABASE `neo4j` WAIT"
SHOW = "SHOW DATABASE `neo4j` YIELD name, address, role, requestedStatus, currentStatus, error"
GRANTS = ["DENY ACCESS ON DATABASE `neo4j` TO `noAccessUsers`", "GRANT ACCESS ON DATABASE `neo4j` TO `regularUsers`",
          "GRANT TRAVERSE ON GRAPH `neo4j` NODE * TO `regularUsers`"]
RESTORE = f"neo4j-admin restore --from={WORK}/unpacked/neo4j --database=neo4j --force"


def plan():
    state = ClusterState("neo4j", None, tuple(Replay(SCENARIO)(SHOW_DATABASES)))
    return plan_cluster_restore(LINE_44, manifest(line="4.4"), BUCKET, state, cores=CORES, replicas=(REPLICA,))


class Shell:
    """Records (server, stage) per command and the Bolt statements in between (one log for both); fails the first
    command of `fail` = (server, stage) with exit 1."""

    def __init__(self, the_plan, events: list[str], fail: tuple[str, str] | None = None):
        self.stage_of = {s.command: stage(s) for s in the_plan.steps if s.kind == "admin"}
        self.events, self.fail = events, fail

    def run(self, server, commands, timeout):
        kind = "delete" if commands[0].startswith("rm -rf ") else self.stage_of[commands[0]]
        self.events.append(f"{server.split('.')[0]}:{kind}")
        if self.fail == (server.split(".")[0], kind):
            self.fail = None
            return 1, "", "No space left on device"
        return 0, "", ""


class Bolt(Replay):
    def __init__(self, events: list[str], fail: dict[str, Exception] | None = None, scenario: str = SCENARIO):
        super().__init__(scenario)
        self.events, self.fail = events, fail or {}

    def __call__(self, statement, params=None):
        self.events.append(statement.cypher)
        if statement.cypher in self.fail:
            raise self.fail[statement.cypher]
        return super().__call__(statement, params)


def go(fail_shell=None, fail_bolt=None, responses=None):
    events: list[str] = []
    p = plan()
    bolt = Bolt(events, fail_bolt)
    if responses:
        bolt.responses.update(responses)
    logs: list[str] = []
    try:
        return run_drop_create_44(p, Shell(p, events, fail_shell), bolt, logs.append, poll=0,
                                  sleep=lambda s: None), events, bolt
    except BackupError as error:
        return error, events, bolt


def test_the_plan_is_the_manuals_drop_restore_on_each_core_create_with_the_download_before_the_drop():
    p = plan()
    assert p.swap == "drop-create" and p.restored == p.name == p.old == "neo4j"
    assert (p.topology.primaries, p.topology.secondaries) == (3, 1)
    kinds = [(s.kind, s.server.split(".")[0], s.cypher or s.command) for s in p.steps]
    assert kinds[1] == ("privileges", "", "SHOW PRIVILEGES AS COMMANDS")
    assert [k[1] for k in kinds[2:5]] == ["core-1", "core-2", "core-3"]  # download and verify, cores only
    assert kinds[2][2].startswith(f"mkdir -p {WORK} && aws s3 cp s3://{BUCKET}/prod/neo4j/20250131T020000Z/"
                                  f"neo4j-backup.tar {WORK}/neo4j-backup.tar && echo '{SHA}  ")
    assert kinds[5] == ("cypher", "", DROP)
    assert kinds[6:9] == [("admin", c.split(".")[0], RESTORE) for c in CORES]  # the read replica copies from a core
    assert kinds[9] == ("cypher", "", CREATE)
    assert kinds[10] == ("wait_online", "", SHOW)
    assert [k[0] for k in kinds[11:]] == ["grant", "counts", "admin", "admin", "admin"]
    assert all("unbind" not in s.command and "systemctl" not in s.command for s in p.steps)  # nothing is stopped
    assert [s.phase for s in p.steps if s.kind in ("privileges", "cypher")] == ["prepare", "swap", "after"]


def test_dry_run_text_names_the_database_under_its_own_name_and_every_statement():
    text = describe_plan(plan())
    assert "backup 20250131T020000Z into 'neo4j' under its own name, 3 primaries, 1 secondary" in text
    for statement in ("SHOW PRIVILEGES AS COMMANDS", DROP, CREATE, f"$ {RESTORE}"):
        assert statement in text
    assert "on failure before DROP DATABASE: nothing changed" in text


def test_only_the_privileges_naming_the_database_are_granted_again():
    commands = [r["command"] for r in load(SCENARIO)["responses"]["SHOW PRIVILEGES AS COMMANDS"]["records"]]
    assert privileges_naming(commands, "neo4j") == GRANTS  # not `neo4j-archive`, `remote-db` nor *
    assert privileges_naming(["GRANT ACCESS ON DATABASE `a-b.c` TO `x`", "GRANT ACCESS ON DATABASE `a-b` TO `x`"],
                             "a-b.c") == ["GRANT ACCESS ON DATABASE `a-b.c` TO `x`"]
    assert privileges_naming(["GRANT ACCESS ON DATABASE neo4j TO x", "GRANT ACCESS ON DATABASE neo4jx TO x"],
                             "neo4j") == ["GRANT ACCESS ON DATABASE neo4j TO x"]


def test_every_step_runs_in_order_and_the_privileges_come_back_word_for_word():
    result, events, bolt = go()
    assert not isinstance(result, Exception), result
    assert events == ["SHOW PRIVILEGES AS COMMANDS", "core-1:fetch", "core-2:fetch", "core-3:fetch", DROP,
                      "core-1:restore", "core-2:restore", "core-3:restore", CREATE, SHOW, SHOW, *GRANTS,
                      "MATCH (n) RETURN count(n) AS count", "MATCH ()-[r]->() RETURN count(r) AS count",
                      "core-1:delete", "core-2:delete", "core-3:delete"]
    assert [w for c, w in zip(bolt.cypher, bolt.writes, strict=True) if c in (DROP, CREATE, *GRANTS)] == [True] * 5
    assert result["privileges"] == GRANTS and result["restored"] == list(CORES)
    assert str(result["outcome"].counts) == "171 nodes, 253 relationships"


@pytest.mark.parametrize("fail_shell, fail_bolt, cleaned", [
    (None, {"SHOW PRIVILEGES AS COMMANDS": BoltError("forbidden", "Permission denied")}, []),
    (("core-2", "fetch"), None, ["core-1:delete", "core-2:delete"]),
])
def test_a_failure_before_the_drop_changes_nothing_and_deletes_the_downloads(fail_shell, fail_bolt, cleaned):
    error, events, _ = go(fail_shell, fail_bolt)
    assert isinstance(error, BackupError)
    assert DROP not in events and not [e for e in events if e.endswith(":restore")]
    assert [e for e in events if e.endswith(":delete")] == cleaned
    assert "Nothing was changed in the cluster: 'neo4j' serves as before" in str(error)


def test_a_refused_drop_says_to_look_whether_it_was_dropped_and_lists_what_is_left():
    error, events, _ = go(fail_bolt={DROP: BoltError("forbidden", "Permission denied for DROP DATABASE")})
    text = str(error)
    assert events[-1] == DROP
    assert "whether 'neo4j' was dropped is not known from here: SHOW DATABASE `neo4j` says" in text
    assert f"  on core-2.prod.neo4j.internal: {RESTORE}" in text and f"  (system) {CREATE}" in text


def test_a_failed_restore_after_the_drop_stops_and_lists_every_command_left_with_the_privileges_read():
    error, events, _ = go(fail_shell=("core-2", "restore"))
    text = str(error)
    assert events[-1] == "core-2:restore" and CREATE not in events
    assert "restore the backup on core-2.prod.neo4j.internal failed: exit 1: No space left on device" in text
    assert "'neo4j' was dropped: nothing serves under it until it is created again" in text
    assert "DUMP DATA wrote in each server's dbms.directories.dumps.root" in text
    left = text.split("left to do, in order:\n", 1)[1].splitlines()
    assert left[:4] == [f"  on {CORES[1]}: {RESTORE}", f"  on {CORES[2]}: {RESTORE}", f"  (system) {CREATE}",
                        f"  (system) {SHOW}"]
    assert left[4:7] == [f"  (system) {g}" for g in GRANTS]


def test_a_create_that_does_not_finish_within_wait_is_a_failure_after_the_drop():
    late = {"records": [{"address": "core-3.prod.neo4j.internal:7687", "state": "Pending", "message": "not caught up",
                         "success": False}]}
    error, events, _ = go(responses={CREATE: late})
    text = str(error)
    assert "not done on every member within WAIT's time: core-3.prod.neo4j.internal:7687: Pending not caught up" in text
    assert events[-1] == CREATE and f"  (system) {GRANTS[0]}" in text


def test_through_the_command_dry_run_prints_the_plan_refuses_without_offline_ok_then_runs(restore_s3, tmp_path):
    from scripts.neo4j_ops.recorded import RecordedTransport

    upload_backup(restore_s3, manifest(line="4.4"), b"a 4.4 backup folder, as a tar")
    responses = dict(load(SCENARIO)["responses"])
    responses.update({
        "components": {"records": [{"name": "Neo4j Kernel", "versions": ["4.4.46"], "edition": "enterprise"}]},
        "cluster_overview": {"records": []}})
    transport = RecordedTransport({"endpoints": {"core-1": {"uri": "neo4j://core-1.prod.neo4j.internal:7687",
                                                            "responses": responses}}})
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="neo4j",
                                    uri="neo4j://core-1.prod.neo4j.internal:7687", auth=None, region="us-east-1",
                                    work_dir=tmp_path, poll=0, log=lambda m: None)
    dry = cr.run_cluster_restore(cr.ClusterRestoreOptions(**{**opts.__dict__, "dry_run": True}), transport=transport)
    assert dry["cluster"]["swap"] == "drop-create" and DROP in dry["summary"] and CREATE in dry["summary"]
    assert dry["summary"].endswith("privileges naming 'neo4j' now (3), granted again after the create:\n  "
                                   + "\n  ".join(GRANTS))
    assert not [c for c in transport.calls if c.write]  # planning only reads
    events: list[str] = []
    the_plan = plan()
    with pytest.raises(UsageError, match="--offline-ok"):
        cr.run_cluster_restore(opts, transport=transport, shell=Shell(the_plan, events))
    assert events == []
    opts.offline_ok = True
    shell = Shell(the_plan, events)
    shell.stage_of = {s["command"]: stage(type("S", (), {"description": s["description"], "kind": s["kind"]}))
                      for s in dry["cluster"]["steps"] if s["kind"] == "admin"}
    done = cr.run_cluster_restore(opts, transport=transport, shell=shell)
    assert events.count("core-2:restore") == 1 and "replica-1:restore" not in events
    assert "'neo4j' kept its name" in done["summary"] and "3 privileges naming it granted again" in done["summary"]
    assert "holds 171 nodes, 253 relationships" in done["summary"]
    assert [c.cypher for c in transport.calls if c.write] == [DROP, CREATE, *GRANTS]
