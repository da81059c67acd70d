"""restore.py --cluster --offline-ok --yes on 4.4, the older procedure (offline_44: stop and unbind every member;
the default DROP / restore / CREATE is in test_cluster_restore_44_keep_name.py): the per-server steps run one server
at a time through a RemoteShell (a fake here, recording each command; the plan itself comes from recorded 4.4
responses), and the SSM adapter against moto's in-process SSM/EC2 (moto answers send_command /
get_command_invocation with Success without running anything: it proves the API calls' shape, not the commands)."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.backup import cluster_restore as cr
from scripts.neo4j_ops.backup.cluster_plan import ClusterState, Step, plan_cluster_restore
from scripts.neo4j_ops.backup.remote import SsmShell, run_offline_44, safety_dump, stage
from scripts.neo4j_ops.queries import SHOW_DATABASES
from scripts.neo4j_ops.shared.errors import BackupError
from scripts.neo4j_ops.shared.versions import LINE_44
from tests.support.cluster_restore_replay import BUCKET, Replay, load, manifest, upload_backup
from tests.support.cluster_restore_shell import FakeShell, sequence

CORES = ("core-1", "core-2", "core-3")
REPLICA = "replica-1"


def plan():
    rows = Replay("4.4-offline.json")(SHOW_DATABASES)
    state = ClusterState("neo4j", None, tuple(rows))
    return plan_cluster_restore(LINE_44, manifest(line="4.4"), BUCKET, state, cores=CORES, replicas=(REPLICA,),
                                region="us-east-1", offline=True)


def test_every_step_runs_one_server_at_a_time_in_the_documented_order_then_the_checks():
    p, logs, checked = plan(), [], []
    shell = FakeShell(p)
    result = run_offline_44(p, shell, logs.append, verify=lambda: checked.append(1) or "counts ok")
    members = [*CORES, REPLICA]
    expected = [f"{m}:stop" for m in members] + ["core-1:safety"]
    for m in members:
        expected += [f"{m}:fetch", f"{m}:unbind", f"{m}:restore"]
    expected += [f"{m}:start" for m in members]  # the cores, then the read replica
    assert sequence(shell) == expected
    assert checked == [1] and result["outcome"] == "counts ok"
    assert result["restored"] == members
    assert len([line for line in logs if line.startswith("step ")]) == len(expected)
    assert logs[0] == "step 1/21 on core-1: stop Neo4j on core-1"
    # the safety dump is kept by a re-run (after a partial run it still holds the old database)
    safety = next(c for s, k, c in shell.calls if k == "safety")
    assert safety.startswith(f"if [ -s {safety_dump(p)} ]; then")
    assert safety_dump(p) == "/var/lib/neo4j/data/backup-staging/neo4j-safety-neo4j-20250131T020000Z/neo4j.dump"


def test_no_command_carries_a_secret(monkeypatch):
    p = plan()
    shell = FakeShell(p)
    run_offline_44(p, shell, lambda m: None)
    for _, _, command in shell.calls:
        assert "password" not in command.lower() and "NEO4J_AUTH" not in command and "secret" not in command.lower()


@pytest.mark.parametrize("server, kind", [("core-2", "stop"), ("core-1", "safety"), ("core-1", "fetch"),
                                          ("core-1", "unbind")])
def test_a_failure_before_any_restore_starts_the_stopped_servers_again_with_their_old_store(server, kind):
    p = plan()
    shell = FakeShell(p, fail=(server, kind))
    with pytest.raises(BackupError) as error:
        run_offline_44(p, shell, lambda m: None)
    text = str(error.value)
    failed_at = sequence(shell).index(f"{server}:{kind}")
    stopped = [s for s, k, _ in shell.calls[:failed_at + 1] if k == "stop" and (s, k) != (server, kind)]
    assert sequence(shell)[failed_at + 1:] == [f"{s}:start" for s in stopped]  # nothing else after the failure
    assert "failed (exit 1): something broke | ERROR: the reason" in text
    assert f"no server was restored. Started again with the old store: {', '.join(stopped)}" in text
    assert "serves from the old store" in text


def test_a_failed_first_restore_leaves_that_server_stopped_and_starts_the_others():
    p = plan()
    shell = FakeShell(p, fail=("core-1", "restore"))
    with pytest.raises(BackupError) as error:
        run_offline_44(p, shell, lambda m: None)
    assert sequence(shell)[-3:] == ["core-2:start", "core-3:start", "replica-1:start"]
    assert "left stopped: core-1 (its restore failed part-way" in str(error.value)


@pytest.mark.parametrize("server, kind", [("core-2", "fetch"), ("core-3", "restore"), (REPLICA, "unbind")])
def test_a_failure_after_some_servers_were_restored_leaves_everything_stopped_and_says_who_holds_what(server, kind):
    p = plan()
    shell = FakeShell(p, fail=(server, kind))
    with pytest.raises(BackupError) as error:
        run_offline_44(p, shell, lambda m: None)
    text = str(error.value)
    assert sequence(shell)[-1] == f"{server}:{kind}"  # nothing is started after it
    restored = [s for s, k, _ in shell.calls if k == "restore" and (s, k) != (server, kind)]
    for s in restored:
        assert f"  {s}: backup 20250131T020000Z (restored)" in text
    for s in [*CORES, REPLICA]:
        if s not in restored and s != server:
            assert f"  {s}: the old database (not yet restored)" in text
    if kind == "restore":
        assert f"  {server}: unknown (its restore failed part-way)" in text
    else:
        assert f"  {server}: the old database (not yet restored)" in text
    assert "resume: fix the cause and run the same command again" in text
    assert f"roll back: on core-1: neo4j-admin unbind && neo4j-admin load --from={safety_dump(p)}" in text


def test_a_failed_start_says_every_server_holds_the_backup():
    p = plan()
    shell = FakeShell(p, fail=("core-3", "start"))
    with pytest.raises(BackupError, match="every server holds backup 20250131T020000Z; started: core-1, core-2"):
        run_offline_44(p, shell, lambda m: None)


@pytest.fixture
def aws(mocked_aws):
    import boto3

    return boto3.client("ssm", region_name="us-east-1"), boto3.client("ec2", region_name="us-east-1")


def test_ssm_shell_finds_the_instance_by_name_tag_sends_run_shell_script_and_polls_moto_recorded(aws):
    ssm, ec2 = aws
    image = ec2.describe_images()["Images"][0]["ImageId"]
    made = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "prod-core-1"}]}])["Instances"][0]
    shell = SsmShell(ssm, ec2, "prod", poll=0, sleep=lambda s: None)
    assert shell.instance_id("core-1") == made["InstanceId"]
    assert shell.instance_id(made["PrivateIpAddress"]) == made["InstanceId"]  # the address SHOW DATABASES gives
    code, out, err = shell.run("core-1", ["echo hi"], 60)
    assert code == 0 and err == ""
    sent = ssm.list_commands()["Commands"]
    assert [c["DocumentName"] for c in sent] == ["AWS-RunShellScript"]
    assert sent[0]["Parameters"] == {"commands": ["echo hi"], "executionTimeout": ["60"]}
    assert sent[0]["InstanceIds"] == [made["InstanceId"]]
    with pytest.raises(BackupError, match="no running instance for server core-9"):
        shell.run("core-9", ["true"], 60)


class StubSsm:
    """GetCommandInvocation shaped like the SSM API reference (Status, ResponseCode, Standard*Content)."""

    class exceptions:  # noqa: N801 - boto3's attribute name
        class InvocationDoesNotExist(Exception):  # noqa: N818 - boto3 names it so
            pass

    def __init__(self, answers):
        self.answers = list(answers)

    def send_command(self, **kwargs):
        return {"Command": {"CommandId": "c-1"}}

    def get_command_invocation(self, **kwargs):
        answer = self.answers.pop(0)
        if answer is None:
            raise self.exceptions.InvocationDoesNotExist()
        return answer


def test_ssm_shell_waits_for_a_terminal_status_and_reports_a_failure():
    shell = SsmShell(StubSsm([None, {"Status": "InProgress"}, {"Status": "Failed", "ResponseCode": 2,
                                                                "StandardOutputContent": "",
                                                                "StandardErrorContent": "no space left"}]),
                     None, "prod", poll=0, sleep=lambda s: None)
    shell._ids["core-1"] = "i-1"
    assert shell.run("core-1", ["x"], 10) == (2, "", "no space left")
    timed = SsmShell(StubSsm([{"Status": "TimedOut", "ResponseCode": 0}]), None, "prod", poll=0,
                     sleep=lambda s: None)
    timed._ids["core-1"] = "i-1"
    assert timed.run("core-1", ["x"], 10) == (-1, "", "SSM status TimedOut")


def test_run_cluster_restore_on_4_4_with_a_shell_runs_the_steps_then_verifies_from_recorded_responses(restore_s3, tmp_path):  # noqa: E501
    from scripts.neo4j_ops.recorded import RecordedTransport

    upload_backup(restore_s3, manifest(line="4.4"), b"a 4.4 backup folder, as a tar")
    responses = dict(load("4.4-offline.json")["responses"])
    responses.update({
        "components": {"records": [{"name": "Neo4j Kernel", "versions": ["4.4.46"], "edition": "enterprise"}]},
        "cluster_overview": {"records": []}})
    transport = RecordedTransport({"endpoints": {"core-1": {"uri": "neo4j://core-1.prod.neo4j.internal:7687",
                                                            "responses": responses}}})
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="neo4j", offline_ok=True,
                                    uri="neo4j://core-1.prod.neo4j.internal:7687", auth=None, region="us-east-1",
                                    work_dir=tmp_path, poll=0, log=lambda m: None, offline_44=True)
    the_plan = cr.run_cluster_restore(cr.ClusterRestoreOptions(**{**opts.__dict__, "dry_run": True}),
                                      transport=transport)
    shell = FakeShell(plan())
    shell.stage_of = {s["command"]: stage(Step(**{k: v for k, v in s.items() if k in ("kind", "description")}))
                      for s in the_plan["cluster"]["steps"] if s["kind"] == "admin"}
    done = cr.run_cluster_restore(opts, transport=transport, shell=shell)
    assert [k for _, k, _ in shell.calls].count("restore") == 3 and sequence(shell)[-1] == "core-3.prod.neo4j" \
        ".internal:start"
    assert "done on core-1.prod.neo4j.internal, core-2.prod.neo4j.internal, core-3.prod.neo4j.internal" in \
        done["summary"]
    assert "holds 171 nodes, 253 relationships" in done["summary"]


def test_an_api_error_or_ctrl_c_during_a_step_is_a_failure_with_the_same_clean_up():
    p = plan()
    shell = FakeShell(p)
    real = shell.run

    def run(server, commands, timeout):
        if server == "core-1" and "unbind" in commands[0] and not getattr(run, "raised", False):
            run.raised = True
            raise KeyboardInterrupt()
        return real(server, commands, timeout)

    shell.run = run
    with pytest.raises(BackupError, match=r"unbind core-1 from the cluster state failed \(exit -1\): "
                                          r"KeyboardInterrupt\nno server was restored"):
        run_offline_44(p, shell, lambda m: None)
    assert sequence(shell)[-4:] == ["core-1:start", "core-2:start", "core-3:start", "replica-1:start"]
