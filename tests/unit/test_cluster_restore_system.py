"""restore.py --cluster --database system: `system` (users, roles, privileges) restored offline on every server, the
Operations Manual's disaster recovery with the backup as the copy, run one server at a time over the remote shell with
run_offline_44's failure handling.

Operations Manual 5.x and dev, clustering/multi-region-deployment/disaster-recovery.adoc, "Make the `system` database
write-available" (the steps this plan follows; 3-5 find a surviving copy and replace lost servers, the backup stands
in for them):
  ". Shut down the Neo4j process on all servers."
  ". On each server, run `bin/neo4j-admin dbms unbind-system-db` to reset the `system` database state on the servers."
  ". On each server, run `bin/neo4j-admin database load system --from-path=[path-to-dump]
     --overwrite-destination=true` to load the current `system` database dump."
  ". Start the Neo4j process on all servers."
4.4, clustering/seed.adoc: "Any seeding that includes restoring the `system` database needs to be done offline";
"If you cannot drop the database because your seeds include the `system` database (which cannot be dropped), you must
run `neo4j-admin unbind`".

The cluster's SHOW DATABASES rows and the counts are DERIVED (tests/fixtures/enterprise/cluster-restore/derive.py),
not recorded from a live cluster; the planner, the executor and the command are the real ones.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from scripts.neo4j_ops.backup import cluster_restore as cr
from scripts.neo4j_ops.backup.cluster_execute import check_counts, count, execute
from scripts.neo4j_ops.backup.cluster_plan import (
    ClusterState,
    admin_unbind,
    checks_only,
    plan_cluster_restore,
    plan_system_restore,
)
from scripts.neo4j_ops.backup.cluster_text import describe_plan
from scripts.neo4j_ops.backup.layout import Backup, FileEntry, Parent
from scripts.neo4j_ops.backup.remote import run_offline_44, safety_dump
from scripts.neo4j_ops.facts import SystemCounts
from scripts.neo4j_ops.queries import SHOW_DATABASES
from scripts.neo4j_ops.shared.errors import BackupError, UsageError
from scripts.neo4j_ops.shared.versions import LINE_5, LINE_44, LINE_2025
from tests.support.cluster_restore_replay import BUCKET, SHA, Replay, load, manifest
from tests.support.cluster_restore_shell import FakeShell, sequence

STAMP = "20250131T020000Z"
WORK = "/var/lib/neo4j/data/backup-staging"
HERE = f"{WORK}/neo4j-cluster-restore-system-{STAMP}"
PRIMARIES = ("core-1.prod.neo4j.internal", "core-2.prod.neo4j.internal", "core-3.prod.neo4j.internal")
SECONDARY = "replica-1.prod.neo4j.internal"
USERS = SystemCounts(users=4, databases=3, roles=6)


def system_manifest(line: str = "5", backup_type: str = "full", counts=USERS):
    m = manifest(backup_type, line=line)
    files = tuple(replace(f, name=f.name.replace("neo4j", "system", 1)) for f in m.files)
    if backup_type == "dump":
        files = (FileEntry("system.dump", 1000, SHA),)
    parents = tuple(Parent(p.timestamp, tuple(replace(f, name=f.name.replace("neo4j", "system", 1)) for f in p.files))
                    for p in m.parents)
    return replace(m, database="system", files=files, parents=parents, counts=counts, version_line=line)


def plan5(line=LINE_5, m=None, scenario="5.26-cluster.json"):
    rows = load(scenario)["endpoints"]["core-1"]["responses"]["show_databases"]["records"]
    state = ClusterState.parse("system", [], rows)
    primaries = tuple(sorted({r["address"].rsplit(":", 1)[0] for r in rows
                              if r["name"] == "system" and r["role"] == "primary"}))
    secondaries = tuple(sorted({r["address"].rsplit(":", 1)[0] for r in rows
                                if r["name"] == "system" and r["role"] == "secondary"}))
    return plan_cluster_restore(line, m or system_manifest(), BUCKET, state, cores=primaries, replicas=secondaries,
                                region="us-east-1")


def admin(plan) -> list[tuple[str, str, str]]:
    from scripts.neo4j_ops.backup.remote import stage

    return [(s.server.split(".")[0], stage(s), s.command) for s in plan.steps if s.kind == "admin"]


@pytest.mark.parametrize("line, scenario", [(LINE_5, "5.26-cluster.json"), (LINE_2025, "2025.10-cluster.json")],
                         ids=["5.26", "2025.10"])
def test_system_is_restored_by_the_disaster_recovery_steps_on_every_server(line, scenario):
    plan = plan5(line, scenario=scenario)
    assert (plan.swap, plan.name, plan.restored) == ("offline", "system", "system")
    steps = admin(plan)
    servers = ["core-1", "core-2", "core-3", "replica-1"]
    # "Shut down the Neo4j process on all servers." first, before any unbind ("The Neo4j process must be shut down on
    # all servers before running the `neo4j-admin dbms unbind-system-db` command", unbind-system-database.adoc).
    assert [f"{s}:{k}" for s, k, _ in steps] == (
        [f"{s}:stop" for s in servers] + ["core-1:safety"]
        + [f"{s}:{k}" for s in servers for k in ("fetch", "unbind", "restore")] + [f"{s}:start" for s in servers])
    # "On each server, run `bin/neo4j-admin dbms unbind-system-db`"
    assert {c for _, k, c in steps if k == "unbind"} == {"neo4j-admin dbms unbind-system-db"}
    # "On each server, run `bin/neo4j-admin database load system --from-path=[path-to-dump]
    # --overwrite-destination=true`": a backup artifact is restored the same way (restore-backup.adoc).
    assert {c for _, k, c in steps if k == "restore"} == {
        f"neo4j-admin database restore --from-path={HERE} --overwrite-destination=true system"}
    fetch = next(c for _, k, c in steps if k == "fetch")
    assert fetch == (f"mkdir -p {HERE} && aws s3 cp --region us-east-1 s3://{BUCKET}/prod/system/{STAMP}/"
                     f"system-2025-01-31T02-00-00.backup {HERE}/system-2025-01-31T02-00-00.backup && echo '{SHA}  "
                     f"{HERE}/system-2025-01-31T02-00-00.backup' | sha256sum -c -")
    safety = next(c for _, k, c in steps if k == "safety")
    assert safety.endswith(f"neo4j-admin database dump --to-path={WORK}/neo4j-safety-system-{STAMP} "
                           f"--overwrite-destination=true system")
    # then system answers on every server, and holds the manifest's users
    assert [s.kind for s in plan.steps[-2:]] == ["wait_online", "counts"]
    assert plan.steps[-2].cypher == ("SHOW DATABASE `system` YIELD name, address, role, requestedStatus, "
                                     "currentStatus, statusMessage")
    assert plan.steps[-1].database == "system"
    assert not [s for s in plan.steps if s.kind == "cypher"]  # nothing over Bolt changes the cluster


def test_the_dry_run_text_names_every_server_and_says_every_database_is_down():
    text = describe_plan(plan5())
    assert "backup 20250131T020000Z into 'system' for 'system', 3 primaries, 1 secondary" in text
    assert "this STOPS Neo4j on every server: every database is unavailable" in text
    assert "[replica-1.prod.neo4j.internal]" in text and "$ neo4j-admin dbms unbind-system-db" in text
    assert "serving meanwhile: nothing: every database is offline" in text
    assert "remote aliases keep their encrypted passwords, readable with the same keystore" in text


def test_4_4_unbinds_each_core_and_restores_system_with_force():
    # 4.4 clustering/seed.adoc: "you must run `neo4j-admin unbind`"; restore-backup.adoc: "--force | Replaces an
    # existing database."
    rows = Replay("4.4-offline.json")(SHOW_DATABASES)
    cores = tuple(sorted({r["address"].rsplit(":", 1)[0] for r in rows if r["name"] == "system"}))
    plan = plan_cluster_restore(LINE_44, system_manifest("4.4"), BUCKET, ClusterState("system", None, tuple(rows)),
                                cores=cores)
    steps = admin(plan)
    assert {c for _, k, c in steps if k == "unbind"} == {"neo4j-admin unbind"}
    assert {c for _, k, c in steps if k == "restore"} == {
        f"neo4j-admin restore --from={HERE}/unpacked/system --database=system --force"}
    assert "tar -xf" in next(c for _, k, c in steps if k == "fetch")
    assert plan.steps[-2].cypher.endswith("currentStatus, error")
    assert "start every core" in next(s.description for s in plan.steps if s.description.startswith("start"))


def test_a_dump_is_loaded_and_a_differential_chain_is_downloaded_whole():
    dump = plan5(m=system_manifest(backup_type="dump"))
    assert {c for _, k, c in admin(dump) if k == "restore"} == {
        f"neo4j-admin database load --from-path={HERE} --overwrite-destination=true system"}
    chain = plan5(m=system_manifest(backup_type="differential"))
    fetch = next(c for _, k, c in admin(chain) if k == "fetch")
    assert [p.split("/")[-1] for p in fetch.split() if p.startswith("s3://")] == [
        "system-2025-01-29T02-00-00.backup", "system-2025-01-30T02-00-00.backup", "system-2025-01-31T02-00-00.backup"]
    assert fetch.count("sha256sum -c -") == 3


def test_what_cannot_be_done_is_refused_with_what_to_do():
    with pytest.raises(UsageError, match="no server hosts 'system'"):
        plan_system_restore(LINE_5, system_manifest(), BUCKET, ())
    with pytest.raises(UsageError, match="drop --beside"):
        plan_cluster_restore(LINE_5, system_manifest(), BUCKET, ClusterState("system", None, ()), beside=True)
    with pytest.raises(UsageError, match="Neo4j 4.4 backup: it cannot be restored into a Neo4j 5 cluster"):
        plan_system_restore(LINE_5, system_manifest("4.4"), BUCKET, PRIMARIES)
    with pytest.raises(UsageError, match="restores 'neo4j' online"):
        admin_unbind(LINE_5, "neo4j")


def test_every_server_in_turn_then_the_checks_and_no_command_carries_a_secret():
    plan, checked = plan5(), []
    shell = FakeShell(plan)
    result = run_offline_44(plan, shell, lambda m: None, verify=lambda: checked.append(1) or "system answers")
    assert len(shell.calls) == 4 + 1 + 4 * 3 + 4 and checked == [1] and result["outcome"] == "system answers"
    assert result["safety_dump"] == f"{PRIMARIES[0]}:{WORK}/neo4j-safety-system-{STAMP}/system.dump"
    for _, _, command in shell.calls:
        assert "password" not in command.lower() and "secret" not in command.lower()


def test_a_failure_before_any_server_was_restored_starts_the_old_stores_again():
    plan = plan5()
    shell = FakeShell(plan, fail=(PRIMARIES[0], "unbind"))
    with pytest.raises(BackupError) as error:
        run_offline_44(plan, shell, lambda m: None)
    assert sequence(shell)[-4:] == [f"{s}:start" for s in (*PRIMARIES, SECONDARY)]
    assert "no server was restored. Started again with the old store" in str(error.value)


def test_a_failure_after_a_server_was_restored_leaves_every_server_stopped_and_says_who_holds_what():
    plan = plan5()
    shell = FakeShell(plan, fail=(PRIMARIES[2], "restore"))
    with pytest.raises(BackupError) as error:
        run_offline_44(plan, shell, lambda m: None, resume="restore.py --cluster --database system --offline-ok --yes")
    text = str(error.value)
    assert sequence(shell)[-1] == f"{PRIMARIES[2]}:restore"
    assert f"  {PRIMARIES[0]}: backup {STAMP} (restored)" in text
    assert f"  {PRIMARIES[2]}: unknown (its restore failed part-way)" in text
    assert f"  {SECONDARY}: the old database (not yet restored)" in text
    assert "(restore.py --cluster --database system --offline-ok --yes)" in text
    # the way back is the line's own: unbind-system-db, then load the safety dump over system
    dump_dir = safety_dump(plan).rsplit("/", 1)[0]
    assert (f"roll back: on {PRIMARIES[0]}: neo4j-admin dbms unbind-system-db && neo4j-admin database load "
            f"--from-path={dump_dir} --overwrite-destination=true system;") in text
    assert "then start the primaries, then the secondaries" in text


class SystemReplay(Replay):
    def __init__(self, users: int, online: int = 4):
        super().__init__("5.26-alias.json")
        rows = [r for r in self.responses["show_databases"]["records"] if r["name"] == "system"]
        self.responses = {
            "SHOW DATABASE `system` YIELD name, address, role, requestedStatus, currentStatus, statusMessage":
                {"records": rows[:online]},
            "count_users": {"records": [{"count": users}]}, "count_databases": {"records": [{"count": 3}]},
            "count_roles": {"records": [{"count": 6}]}}


def test_the_checks_wait_for_system_on_every_server_and_compare_its_users_with_the_manifest():
    plan, log = plan5(), []
    replay = SystemReplay(users=4)
    outcome = execute(checks_only(plan), replay, log.append, sleep=lambda s: None, timeout=60)
    assert outcome.counts == USERS
    assert replay.cypher[1:] == ["SHOW USERS YIELD user RETURN count(user) AS count",
                                 "SHOW DATABASES YIELD name RETURN count(DISTINCT name) AS count",
                                 "SHOW ROLES YIELD role RETURN count(role) AS count"]
    assert "system holds 4 users, as the manifest says" in "\n".join(log)
    with pytest.raises(BackupError, match="system holds 3 users, the manifest of backup 20250131T020000Z says 4"):
        execute(checks_only(plan), SystemReplay(users=3), log.append, sleep=lambda s: None, timeout=60)


def test_a_manifest_without_system_counts_only_shows_that_system_answers():
    from scripts.neo4j_ops.facts import Counts

    plan, log = plan5(m=system_manifest(counts=Counts(0, 0))), []
    check_counts(plan, count(SystemReplay(users=4), "system"), log.append)
    assert "has no system counts to compare with" in log[0]


def recorded_cluster():
    from scripts.neo4j_ops.recorded import RecordedTransport

    return RecordedTransport(load("5.26-cluster.json") | {"bucket": BUCKET})


def test_restore_py_dry_run_of_system_prints_the_plan_per_server_and_changes_nothing(tmp_path):
    m = system_manifest()
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="system", dry_run=True,
                                    uri="neo4j://core-1.prod.neo4j.internal:7687", auth=None, work_dir=tmp_path,
                                    log=lambda m: None)
    transport = recorded_cluster()
    result = cr.run_cluster_restore(opts, transport=transport, backups=[Backup(STAMP, (m.files[0].name,), m)])
    text = result["summary"]
    assert text.startswith("dry run, nothing changed")
    for server in (*PRIMARIES, SECONDARY):
        assert f"unbind {server} from the cluster state [{server}]" in text
        assert f"restore the backup on {server} [{server}]" in text
    assert not [c for c in transport.calls if not c.name.startswith(("components", "show_", "cluster_"))]


def test_without_offline_ok_system_is_refused_before_anything_runs(tmp_path):
    m = system_manifest()
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="system", sha_check=False,
                                    uri="neo4j://core-1.prod.neo4j.internal:7687", auth=None, work_dir=tmp_path,
                                    log=lambda m: None)
    m = replace(m, check="passed")
    shell = FakeShell(plan5())
    with pytest.raises(UsageError, match="system is restored offline: Neo4j stops on every server"):
        cr.run_cluster_restore(opts, transport=recorded_cluster(), shell=shell,
                               backups=[Backup(STAMP, (m.files[0].name,), m)])
    assert shell.calls == []
