"""The rollout's HAProxy steps on AWS stacks (scripts/neo4j_ops/rollout/entry.py): haproxy-1 then haproxy-2
after the Neo4j servers, each gated before on the other node being healthy in the NLB and after on its own
targets being healthy again; stop on failure; resume with --from haproxy-2; --dry-run; Docker's single HAProxy
left out. The Neo4j cluster answers from recorded Enterprise responses (tests/fixtures/enterprise/), the NLB's
describe-target-health is a fake with AWS's response shape, the Pulumi boundary a fake stack; the resource names
a step targets are checked against the AWS program's plan, and the boto3 adapter against moto's elbv2."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.rollout import main
from scripts.neo4j_ops.rollout.command import entry_point
from scripts.neo4j_ops.rollout.entry import PAIR, Elbv2TargetHealth, EntryTarget, node_health
from scripts.neo4j_ops.rollout.stack import (
    ENTRY_RESOURCES,
    INSTANCE,
    RECORD,
    TARGET_ATTACHMENT,
    AutomationStack,
    server_resources,
    urn_parts,
)
from scripts.neo4j_ops.shared.errors import OperationError
from scripts.neo4j_ops.target import stack_settings
from tests.conftest import ENTERPRISE
from tests.support.rollout_fakes import EVERYTHING, FakeStack, RestartingCluster

ARNS = {"write": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/prod-haproxy-write/1",
        "read": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/prod-haproxy-read/2"}
PORTS = {"write": 7687, "read": 7689}


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    monkeypatch.delenv("NEO4J_USER_PASSWORDS", raising=False)
    for module in ("gates", "entry"):
        monkeypatch.setattr(f"scripts.neo4j_ops.rollout.{module}.FIRST_PAUSE", 0.01)
        monkeypatch.setattr(f"scripts.neo4j_ops.rollout.{module}.MAX_PAUSE", 0.01)


class FakeNlb:
    """describe_target_health of two target groups, in AWS's shape. A replaced node is a new instance id whose
    targets go `initial` (Elb.InitialHealthChecking) for `rounds` calls, then `healthy` (or `after`)."""

    def __init__(self):
        self.instances = {node: f"i-0{index}aaaa" for index, node in enumerate(PAIR, 1)}
        self.state = {node: "healthy" for node in PAIR}
        self.initial: dict[str, int] = {}
        self.after: dict[str, str] = {}
        self.calls: list[str] = []

    def replace(self, node: str, rounds: int = 2) -> None:
        self.instances[node] = self.instances[node].replace("aaaa", "bbbb")
        self.state[node] = "initial"
        self.initial[node] = rounds

    def describe_target_health(self, target_group_arn: str) -> list[dict]:
        self.calls.append(target_group_arn)
        rows = []
        for node, instance in self.instances.items():
            state = self.state[node]
            if state == "initial" and target_group_arn == ARNS["read"]:  # one round = both groups asked
                self.initial[node] -= 1
                if self.initial[node] <= 0:
                    self.state[node] = self.after.get(node, "healthy")
            health = {"State": state}
            if state == "initial":
                health |= {"Reason": "Elb.InitialHealthChecking",
                           "Description": "Initial health checks in progress"}
            elif state == "unhealthy":
                health |= {"Reason": "Target.ResponseCodeMismatch", "Description": "Health checks failed with "
                                                                                   "these codes: [503]"}
            listener = next(name for name, arn in ARNS.items() if arn == target_group_arn)
            rows.append({"Target": {"Id": instance, "Port": PORTS[listener]}, "HealthCheckPort": "8405",
                         "TargetHealth": health})
        return rows

    def healthy(self, node: str) -> bool:
        return self.state[node] == "healthy"


class EntryFakeStack(FakeStack):
    """FakeStack with the entry point: entry_targets from the NLB's current instances; applying a HAProxy
    node replaces it in the NLB, and records whether the other node was healthy at that moment."""

    def __init__(self, pending, nlb: FakeNlb, on_apply=None, fail: str | None = None):
        super().__init__(pending, on_apply)
        self.nlb = nlb
        self.fail = fail
        self.other_healthy_when_applied: dict[str, bool] = {}

    def entry_targets(self, node):
        return [EntryTarget(listener, ARNS[listener], self.nlb.instances[node], PORTS[listener])
                for listener in ("write", "read")]

    def apply(self, server, log):
        if server in PAIR:
            other = next(n for n in PAIR if n != server)
            self.other_healthy_when_applied[server] = self.nlb.healthy(other)
            if server == self.fail:
                self.applied.append(server)
                raise OperationError(f"pulumi: up of {server} of stack prod failed: error: InvalidAMIID.NotFound")
            self.nlb.replace(server)
        super().apply(server, log)


WITH_PAIR = dict(EVERYTHING) | {"haproxy-1": ["replace (userDataBase64)"], "haproxy-2": ["replace (ami)"]}


def run(capsys, ca, stack, cluster, nlb, *args):
    argv = ["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert", str(ca),
            "--timeout", "60s", *args]
    code = main(argv, transport=cluster, stack=stack, entry_health=nlb)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(out: str) -> dict[str, str]:
    return {line.split()[1]: line for line in out.splitlines() if line[:1].isdigit()}


def test_the_pair_goes_after_the_servers_one_node_at_a_time_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    nlb = FakeNlb()
    stack = EntryFakeStack(dict(WITH_PAIR), nlb, on_apply=lambda s: None if s in PAIR else cluster.restart(s, 1))
    code, out, err = run(capsys, ca, stack, cluster, nlb)
    assert code == 0, out + err
    assert stack.applied == ["replica-1", "core-3", "core-1", "core-2", "haproxy-1", "haproxy-2"]
    assert stack.asked == [["core-1", "core-2", "core-3", "replica-1", "haproxy-1", "haproxy-2"]]
    # Never both out: when each node was replaced, the other one was healthy in the NLB.
    assert stack.other_healthy_when_applied == {"haproxy-1": True, "haproxy-2": True}
    assert "haproxy-1 [5/6]: haproxy-2 is healthy in the NLB (write: healthy, read: healthy)" in err
    for node in PAIR:
        # The gate read the new instance's targets and waited through the initial checks.
        assert f"{node}: NLB targets write: initial (Elb.InitialHealthChecking), read: initial " \
               "(Elb.InitialHealthChecking)" in err
        assert f"{node}: NLB targets write: healthy, read: healthy" in err
        assert nlb.instances[node].endswith("bbbb")
    assert out.count(" done ") == 6 and "resume with" not in out


def test_a_node_whose_targets_stay_unhealthy_stops_before_the_other_from_recorded_enterprise_responses(
        capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    nlb = FakeNlb()
    nlb.after["haproxy-1"] = "unhealthy"  # the new node's HAProxy answers 503 on /health/write
    stack = EntryFakeStack({"haproxy-1": ["replace (ami)"], "haproxy-2": ["replace (ami)"]}, nlb)
    code, out, err = run(capsys, ca, stack, cluster, nlb, "--timeout", "1s")
    assert code == 1, out + err
    assert stack.applied == ["haproxy-1"]
    assert nlb.instances["haproxy-2"] == "i-02aaaa"  # untouched
    line = rows(out)["haproxy-1"]
    assert "FAILED" in line and "applied, but not healthy in the NLB within 1 s" in line
    assert "write: unhealthy (Target.ResponseCodeMismatch)" in out
    assert "not started" in rows(out)["haproxy-2"]
    assert "resume with: make rollout STACK=prod FROM=haproxy-1" in out


def test_a_node_is_not_replaced_while_the_other_is_unhealthy_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    nlb = FakeNlb()
    nlb.state["haproxy-2"] = "unhealthy"
    stack = EntryFakeStack({"haproxy-1": ["replace (ami)"]}, nlb)
    code, out, err = run(capsys, ca, stack, cluster, nlb)
    assert code == 1, out + err
    assert stack.applied == []
    assert "not started: haproxy-2 is not healthy in the NLB (write: unhealthy (Target.ResponseCodeMismatch)" in out
    assert "resume with: make rollout STACK=prod FROM=haproxy-1" in out


def test_a_failed_up_of_a_node_leaves_the_other_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    nlb = FakeNlb()
    stack = EntryFakeStack({"haproxy-1": ["replace (ami)"], "haproxy-2": ["replace (ami)"]}, nlb, fail="haproxy-1")
    code, out, err = run(capsys, ca, stack, cluster, nlb)
    assert code == 1, out + err
    assert stack.applied == ["haproxy-1"] and nlb.instances["haproxy-2"] == "i-02aaaa"
    assert "pulumi up failed: pulumi: up of haproxy-1 of stack prod failed: error: InvalidAMIID.NotFound" in out
    assert "not started" in rows(out)["haproxy-2"]


def test_a_server_that_fails_leaves_the_pair_untouched_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    nlb = FakeNlb()

    def apply(server):
        if server == "replica-1":
            raise OperationError("pulumi: up of replica-1 of stack prod failed: error: quota")

    stack = EntryFakeStack(dict(WITH_PAIR), nlb, on_apply=apply)
    code, out, err = run(capsys, ca, stack, cluster, nlb)
    assert code == 1 and stack.applied == ["replica-1"]
    assert "not started" in rows(out)["haproxy-1"] and "not started" in rows(out)["haproxy-2"]
    assert nlb.calls == []  # the NLB was never even asked


def test_resume_from_haproxy_2_leaves_the_servers_and_haproxy_1_alone_from_recorded_enterprise_responses(
        capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    nlb = FakeNlb()
    stack = EntryFakeStack(dict(WITH_PAIR), nlb)
    code, out, err = run(capsys, ca, stack, cluster, nlb, "--from", "haproxy-2")
    assert code == 0, out + err
    assert stack.applied == ["haproxy-2"]
    assert out.count("before --from haproxy-2: left alone this run") == 5
    assert stack.other_healthy_when_applied == {"haproxy-2": True}


def test_dry_run_shows_the_pair_with_the_reason_and_asks_no_nlb_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    nlb = FakeNlb()
    stack = EntryFakeStack(dict(WITH_PAIR), nlb)
    code, out, err = run(capsys, ca, stack, cluster, nlb, "--dry-run")
    assert code == 0, out + err
    assert list(rows(out)) == ["replica-1", "core-3", "core-1", "core-2", "haproxy-1", "haproxy-2"]
    assert "starts only while haproxy-2 is healthy in the NLB" in rows(out)["haproxy-1"]
    assert "pending: replace (ami)" in rows(out)["haproxy-2"]
    assert stack.applied == [] and nlb.calls == []


def test_the_docker_stack_has_one_haproxy_which_is_left_out_and_said_so():
    nodes, note = entry_point(stack_settings("local", None))
    assert nodes == ()
    assert note.startswith("HAProxy (haproxy): left out. The docker stack has a single HAProxy")
    assert entry_point(stack_settings("prod", None)) == (PAIR, None)


def test_dry_run_on_docker_says_the_haproxy_is_left_out(capsys, monkeypatch, ca):
    monkeypatch.setenv("PATH", "/nonexistent")  # no Pulumi needed for --dry-run --pending
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    code = main(["--stack", "local", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"),
                 "--ca-cert", str(ca), "--dry-run", "--pending", "core-2"], transport=cluster)
    out = capsys.readouterr().out
    assert code == 0, out
    assert list(rows(out)) == ["core-2"]
    assert "HAProxy (haproxy): left out. The docker stack has a single HAProxy" in out


def test_node_health_needs_every_target_group_healthy():
    nlb = FakeNlb()
    targets = [EntryTarget(listener, ARNS[listener], "i-01aaaa", PORTS[listener]) for listener in ("write", "read")]
    assert node_health(nlb, targets) == (True, "write: healthy, read: healthy")
    assert node_health(nlb, targets[:1] + [EntryTarget("read", ARNS["read"], "i-0gone", 7689)]) == \
        (False, "write: healthy, read: not registered")
    assert node_health(nlb, []) == (False, "no NLB target in the stack's state")


# --- the Automation API adapter and the plan's names -------------------------------------------------------


def entry_state() -> list[dict]:
    parent = "neo4j-cluster:aws:Cluster$neo4j-cluster:aws:LoadBalancer"
    resources = []
    for index, node in enumerate(PAIR, 1):
        resources.append({"urn": f"urn:pulumi:prod::neo4j-cluster::{parent}${RECORD}::cluster-{node}"})
        resources.append({"urn": f"urn:pulumi:prod::neo4j-cluster::{parent}${INSTANCE}::cluster-{node}",
                          "outputs": {"id": f"i-0{index}aaaa"}})
        for listener in ("write", "read"):
            resources.append({"urn": f"urn:pulumi:prod::neo4j-cluster::{parent}${TARGET_ATTACHMENT}::"
                                     f"cluster-{listener}-{node}",
                              "outputs": {"targetGroupArn": ARNS[listener], "targetId": f"i-0{index}aaaa",
                                          "port": PORTS[listener]}})
    return resources


@pytest.fixture
def automation(tmp_path):
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  neo4j:platform: aws\n")
    ups, previews = [], []

    class AutoStack:
        def export_stack(self):
            return SimpleNamespace(deployment={"resources": entry_state()})

        def up(self, *, target, target_dependents, config_file, on_output):
            ups.append({"target": target, "config": yaml.safe_load(Path(config_file).read_text())["config"]})

        def preview(self, *, diff, target, config_file, on_event):
            previews.append({"target": target, "config": yaml.safe_load(Path(config_file).read_text())["config"]})
            for u in target:
                op = "replace" if urn_parts(u)[1] == "cluster-haproxy-1" else "same"
                metadata = SimpleNamespace(op=SimpleNamespace(value=op), urn=u, diffs=["userDataBase64"], keys=None)
                on_event(SimpleNamespace(resource_pre_event=SimpleNamespace(metadata=metadata)))

    module = SimpleNamespace(select_stack=lambda name, work_dir: AutoStack())
    return SimpleNamespace(stack=AutomationStack("prod", "aws", tmp_path, module), ups=ups, previews=previews)


def test_pending_nodes_come_from_the_preview_of_their_instances(automation):
    assert automation.stack.pending(list(PAIR)) == {"haproxy-1": ["replace (userDataBase64)"], "haproxy-2": []}
    (preview,) = automation.previews
    assert preview["config"]["neo4j:rolloutRelease"] == list(PAIR)
    # Only the instances (the records and attachments come after them, whatever the state's order).
    assert sorted(urn_parts(u) for u in preview["target"]) == [(INSTANCE, "cluster-haproxy-1"),
                                                               (INSTANCE, "cluster-haproxy-2")]


def test_a_node_step_targets_its_instance_attachments_and_record_with_only_it_released(automation):
    automation.stack.apply("haproxy-2", lambda _line: None)
    (up,) = automation.ups
    assert sorted(urn_parts(u) for u in up["target"]) == [
        (INSTANCE, "cluster-haproxy-2"), (TARGET_ATTACHMENT, "cluster-read-haproxy-2"),
        (TARGET_ATTACHMENT, "cluster-write-haproxy-2"), (RECORD, "cluster-haproxy-2")]
    assert up["config"]["neo4j:rolloutRelease"] == ["haproxy-2"]


def test_entry_targets_come_from_the_attachments_in_the_state(automation):
    assert automation.stack.entry_targets("haproxy-1") == [
        EntryTarget("write", ARNS["write"], "i-01aaaa", 7687), EntryTarget("read", ARNS["read"], "i-01aaaa", 7689)]


@pytest.fixture(scope="module")
def aws_plan(tmp_path_factory):
    from tests.conftest import stack_config
    from tests.support.plans import make_plan

    return make_plan("prod", "prod", stack_config("prod"), tmp_path_factory.mktemp("prod") / "out")


def test_the_plan_has_exactly_the_resources_a_node_step_targets(aws_plan):
    present = {(r["type"], r["name"]): r["parent"] for r in aws_plan.resources}
    assert tuple(n.name for n in aws_plan.topology.haproxy_nodes) == PAIR
    for node in PAIR:
        wanted = server_resources("aws", "prod", node)
        assert len(wanted) == len(ENTRY_RESOURCES)
        missing = [w for w in wanted if w not in present]
        assert not missing, f"{node}: the plan has no {missing}"
        assert {present[w].split("::")[0] for w in wanted} == {"neo4j-cluster:aws:LoadBalancer"}
    # Every target group attachment of the plan belongs to one node's step (none is left with an old target).
    attachments = {name for kind, name in present if kind == TARGET_ATTACHMENT}
    assert attachments == {name for node in PAIR for kind, name in server_resources("aws", "prod", node)
                           if kind == TARGET_ATTACHMENT}


def test_the_boto3_adapter_reads_moto_elbv2_target_health(mocked_aws):
    import boto3

    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone="eu-west-1a")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.small",
                                 SubnetId=subnet["Subnet"]["SubnetId"])["Instances"][0]["InstanceId"]
    elbv2 = boto3.client("elbv2", region_name="eu-west-1")
    group = elbv2.create_target_group(Name="prod-haproxy-write", Protocol="TCP", Port=7687, VpcId=vpc,
                                      TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": instance, "Port": 7687}])
    health = Elbv2TargetHealth("eu-west-1")
    ok, words = node_health(health, [EntryTarget("write", group, instance, 7687)])
    assert words.startswith("write: ")  # moto's own state for a registered, running instance
    assert ok == (words == "write: healthy")
    with pytest.raises(OperationError, match=r"^elbv2 describe-target-health arn:nope \(eu-west-1\) failed: "):
        health.describe_target_health("arn:nope")
