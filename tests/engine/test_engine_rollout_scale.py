"""`make rollout` and `make scale UP=1` end to end through the real Pulumi engine (v3.276.0), as make calls them:
scripts/rollout.py's and scripts/scale.py's main with `--stack prod` (scale: `--ca-cert`, `--up`), the Pulumi CLI on
PATH, the stack found by
PULUMI_BACKEND_URL and the project directory (NEO4J_CLUSTER_PROJECT_DIR: the engine stack's own directory, its
Pulumi.prod.yaml beside a Pulumi.yaml). The stack outputs the commands read are the engine's
(`pulumi stack output`); the commands select the stack by its directory, so the program runs in a language host:
a STAND-IN one here (tests/support/engine/language_host.py), as the aws and tls providers are STAND-INS
(tests/support/engine/standin_provider.py: they create nothing).

The cluster the gates ask is the recorded Enterprise 5.26 prod cluster the rollout's unit tests replay
(tests/fixtures/enterprise/cluster-5.26-healthy.json: core-1..3, replica-1), so the stack is prod at that size
(neo4j:coreCount 3, neo4j:replicaCount 1). The stand-in aws provider tells the recording when the engine updates a
server's instance: that server then stops answering for a gather round, as a restarted machine does. make scale's
Cypher is answered by the recorded scaling scenarios its unit tests replay (tests/fixtures/enterprise/scaling/).
"""
from __future__ import annotations

import os
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from pulumi import automation as auto

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.recorded import load_scenario
from scripts.neo4j_ops.rollout import main as rollout_main
from scripts.neo4j_ops.rollout.entry import TargetHealth
from scripts.neo4j_ops.rollout.stack import INSTANCE, TARGET_ATTACHMENT
from scripts.neo4j_ops.target import PROJECT_DIR_VARIABLE
from tests.conftest import ENTERPRISE
from tests.support.engine.cli import engine_dir
from tests.support.engine.language_host import serve_language_host
from tests.support.engine.stack import EngineStack, _program, engine_stack
from tests.support.engine.stack_secrets import SECRETS
from tests.support.rollout_fakes import RestartingCluster

SERVERS = ("core-1", "core-2", "core-3", "replica-1")
# The recorded cluster's size (cluster-5.26-healthy.json); prod's own file has 5 primaries and 2 secondaries.
RECORDED_SIZE = {"neo4j:coreCount": 3, "neo4j:replicaCount": 1}
# The recorded cluster's order (test_rollout_run.py, same recording): the secondary, the primary leading nothing,
# then the leaders (core-1 writes neo4j, core-2 system).
ORDER = ["replica-1", "core-3", "core-1", "core-2"]
RECORDED_PASSWORD = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")["passwords"]["neo4j"]


@dataclass
class Cloud:
    """What the stand-in aws provider was asked to do for real, and what happens meanwhile: a server whose instance
    the engine creates or updates restarts (the recording refuses it for a round); `fail` names servers whose
    instance the provider refuses to create, update or delete, with that error."""
    cluster: RestartingCluster | None = None
    changes: list[tuple[str, str]] = field(default_factory=list)  # (operation, resource name), in order
    machines: list[tuple[str, str]] = field(default_factory=list)  # the same, of instances only
    fail: dict[str, str] = field(default_factory=dict)  # server → the error its instance update answers
    operations: int = 0  # every operation ever watched (`changes` starts again with each command)
    # A server whose new machine's create is where the operator presses Ctrl-C: SIGINT to the pulumi CLI and to this
    # process, as a terminal sends it to its foreground process group.
    interrupt_at: str | None = None

    def watch(self, operation: str, urn: str, context: grpc.ServicerContext) -> None:
        self.operations += 1
        name, kind = urn.split("::")[-1], urn.split("::")[-2].split("$")[-1]
        self.changes.append((operation, name))
        if kind == INSTANCE:
            self.machines.append((operation, name))
        server = name.removeprefix("cluster-")
        if kind == INSTANCE and server in self.fail:
            context.abort(grpc.StatusCode.UNKNOWN, self.fail[server])
        if kind == INSTANCE and operation == "create" and server == self.interrupt_at:
            self.interrupt_at = None
            for pid in pulumi_children():
                os.kill(pid, signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        if kind == INSTANCE and operation in ("create", "update") and self.cluster is not None and server in SERVERS:
            self.cluster.restart(server, 1)


def pulumi_children() -> list[int]:
    """The pulumi CLI processes this process started (the Automation API runs the CLI as a child)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
            comm, fields = rest.rsplit(") ", 1)
        except (OSError, ValueError):
            continue
        if comm == "pulumi" and int(fields.split()[1]) == os.getpid():
            found.append(int(pid))
    return found


@dataclass
class Prod:
    engine: EngineStack
    cloud: Cloud
    temp: Path  # the system's temporary directory for these tests: where the rollout's release copies go

    @property
    def stack_file(self) -> Path:
        return self.engine.work_dir / "Pulumi.prod.yaml"


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine-commands")
    with engine_stack("prod", tmp, secrets=SECRETS["prod"], config=RECORDED_SIZE) as engine:
        engine.up()
        cloud = Cloud()
        aws = next(p.provider for p in engine.providers if p.provider.package == "aws")
        aws.watch = cloud.watch
        host = serve_language_host(_program)
        temp = tmp / "tmp"
        temp.mkdir()
        try:
            with pytest.MonkeyPatch.context() as patch:
                for name, value in engine.env.items():
                    patch.setenv(name, value)
                patch.setenv("PULUMI_DEBUG_LANGUAGES", host.debug_languages)
                patch.setenv("PATH", f"{engine_dir() / 'bin'}{os.pathsep}{os.environ['PATH']}")
                patch.setenv(PROJECT_DIR_VARIABLE, str(engine.work_dir))
                # The admin password the recorded cluster accepts (its "passwords"), as the operator exports it.
                patch.setenv("NEO4J_PASSWORD", RECORDED_PASSWORD)
                patch.delenv("NEO4J_USER_PASSWORDS", raising=False)
                patch.setattr(tempfile, "tempdir", str(temp))
                # Gate rounds pause between polls: barely, against a recording.
                patch.setattr("scripts.neo4j_ops.rollout.gates.FIRST_PAUSE", 0.01)
                patch.setattr("scripts.neo4j_ops.rollout.gates.MAX_PAUSE", 0.01)
                patch.setattr("scripts.neo4j_ops.rollout.entry.FIRST_PAUSE", 0.01)
                patch.setattr("scripts.neo4j_ops.rollout.entry.MAX_PAUSE", 0.01)
                yield Prod(engine, cloud, temp)
        finally:
            host.stop()


def rollout(prod: Prod, capsys, cluster: RestartingCluster, *args: str,
            entry_health: TargetHealth | None = None) -> tuple[int, str, str]:
    """`make rollout STACK=prod` (scripts/rollout.py --stack prod), its gates answered by `cluster` (and the HAProxy
    pair's by `entry_health`)."""
    prod.cloud.cluster, prod.cloud.changes, prod.cloud.machines = cluster, [], []
    code = rollout_main(["--stack", "prod", "--timeout", "60s", *args], transport=cluster, entry_health=entry_health)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def recorded(ca: Path) -> RestartingCluster:
    return RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))


def instance_types(prod: Prod) -> dict[str, str]:
    """Each Neo4j server's instance type in the stack's state (what the engine last applied)."""
    return {r["urn"].rsplit("::cluster-", 1)[1]: r["inputs"]["instanceType"]
            for r in prod.engine.stack.export_stack().deployment["resources"]
            if r["type"] == INSTANCE and r["urn"].rsplit("::cluster-", 1)[1] in SERVERS}


def new_type(prod: Prod, instance_type: str) -> None:
    """A new instance type for every Neo4j server (prod's own: r6i.2xlarge primaries, r6i.xlarge secondaries): held
    back on the running servers by `pulumi up` until the rollout releases them (README, Operating the AWS stack)."""
    prod.engine.stack.set_all_config({"neo4j:coreInstanceType": auto.ConfigValue(instance_type),
                                      "neo4j:replicaInstanceType": auto.ConfigValue(instance_type)})


def test_make_rollout_replaces_one_server_per_step_in_order_and_leaves_the_stack_file_also_when_step_2_fails(
        prod, capsys, ca):
    # A new instance type on every server; core-3's new machine (step 2) fails to start: the stand-in cloud answers
    # its create with an error. The rollout stops there, leaves the other servers and the stack file as they were;
    # run again, it skips what is done and replaces the rest, one per step, in the order.
    new_type(prod, "r6i.4xlarge")
    before = prod.stack_file.read_bytes()
    prod.cloud.fail = {"core-3": "InsufficientInstanceCapacity: no r6i.4xlarge capacity in eu-west-1c"}
    try:
        code, out, err = rollout(prod, capsys, recorded(ca))
    finally:
        prod.cloud.fail = {}
    assert code == 1, out + err
    steps = {line.split()[1]: line for line in out.splitlines() if line[:1].isdigit()}
    assert list(steps) == ORDER, out
    assert " done " in steps["replica-1"]
    # The engine's own diagnostic names the cause (not the tail of the outputs it prints after it).
    assert "FAILED" in steps["core-3"] and "InsufficientInstanceCapacity: no r6i.4xlarge" in steps["core-3"], out
    assert "not started" in steps["core-1"] and "not started" in steps["core-2"]
    assert "resume with: make rollout STACK=prod FROM=core-3" in out
    # What the cloud was asked to do, in order: replica-1's machine replaced (the new one first: the instance type
    # changes its user data, which replaces on change), then core-3's new machine, which failed. Nothing else.
    assert prod.cloud.changes == [("create", "cluster-replica-1"), ("delete", "cluster-replica-1"),
                                  ("create", "cluster-core-3")], prod.cloud.changes
    assert prod.stack_file.read_bytes() == before
    assert list(prod.temp.glob("neo4j-rollout-*")) == []
    assert instance_types(prod) == {"replica-1": "r6i.4xlarge", "core-3": "r6i.2xlarge", "core-1": "r6i.2xlarge",
                                    "core-2": "r6i.2xlarge"}

    code, out, err = rollout(prod, capsys, recorded(ca))
    assert code == 0, out + err
    assert "nothing pending (left alone): replica-1" in out, out
    assert prod.cloud.changes == [(op, f"cluster-{s}") for s in ORDER[1:] for op in ("create", "delete")], \
        prod.cloud.changes
    # The engine's own summary of each step's targeted up: that server's machine replaced, nothing else changed.
    summaries = [line.split("] ", 1)[1] for line in err.splitlines() if line.endswith(": pulumi:     +-1 replaced")]
    assert summaries == [f"{s}: pulumi:     +-1 replaced" for s in ORDER[1:]], summaries
    assert prod.stack_file.read_bytes() == before
    assert list(prod.temp.glob("neo4j-rollout-*")) == []
    assert instance_types(prod) == {s: "r6i.4xlarge" for s in SERVERS}


def test_a_rollout_interrupted_during_a_step_leaves_the_stack_file_and_a_rerun_has_nothing_left(prod, capsys, ca):
    # Ctrl-C while the rollout waits for replica-1 to come back from its step (its new machine booting):
    # exit 130, the stack file as it was, no copy holding the release left for a later plain `pulumi up`.
    prod.engine.stack.set_config("neo4j:replicaInstanceType", auto.ConfigValue("r6i.8xlarge"))
    before = prod.stack_file.read_bytes()
    cluster = recorded(ca)
    inner = cluster.client

    def client(uri, auth, *, tls=None):
        if "replica-1" in uri and cluster.down.get("replica-1.prod.neo4j.internal:7687"):
            raise KeyboardInterrupt
        return inner(uri, auth, tls=tls)

    cluster.client = client
    code, out, err = rollout(prod, capsys, cluster)
    assert code == 130, out + err
    assert prod.cloud.changes == [("create", "cluster-replica-1"), ("delete", "cluster-replica-1")]
    assert instance_types(prod)["replica-1"] == "r6i.8xlarge"
    assert prod.stack_file.read_bytes() == before
    assert list(prod.temp.glob("neo4j-rollout-*")) == []
    code, out, err = rollout(prod, capsys, recorded(ca))
    assert code == 0 and prod.cloud.changes == [], out + err
    assert "nothing pending" in out and prod.stack_file.read_bytes() == before



def test_ctrl_c_during_a_steps_pulumi_up_waits_for_pulumi_to_stop_and_a_rerun_finishes_the_rollout(prod, capsys, ca):
    # Ctrl-C while step 2's `pulumi up` creates core-3's new machine: the terminal's SIGINT reaches the rollout and the
    # pulumi CLI. The rollout waits for Pulumi's graceful cancel (the create in flight completes), then exits 130:
    # no pulumi left running, the stack file as it was, no release copy; a rerun is not refused by a lock and
    # finishes what is left.
    new_type(prod, "r6i.12xlarge")
    before = prod.stack_file.read_bytes()
    prod.cloud.interrupt_at = "core-3"
    code, out, err = rollout(prod, capsys, recorded(ca))
    assert code == 130, out + err
    assert "interrupted: waiting for pulumi to finish the up of core-3" in err, err
    assert pulumi_children() == []
    assert prod.cloud.changes[:3] == [("create", "cluster-replica-1"), ("delete", "cluster-replica-1"),
                                      ("create", "cluster-core-3")], prod.cloud.changes
    assert prod.stack_file.read_bytes() == before
    assert list(prod.temp.glob("neo4j-rollout-*")) == []

    code, out, err = rollout(prod, capsys, recorded(ca))
    assert code == 0, out + err
    assert instance_types(prod) == {s: "r6i.12xlarge" for s in SERVERS}
    assert prod.stack_file.read_bytes() == before
    assert list(prod.temp.glob("neo4j-rollout-*")) == []


@dataclass
class NlbStandin:
    """A STAND-IN for the NLB's target health (elbv2 DescribeTargetHealth; the stand-in aws provider creates no load
    balancer). A target group's targets are the attachments in the engine's state that name it. A target answers
    `unhealthy` (Target.FailedHealthChecks) while its node is in `failing`; `initial` (Elb.InitialHealthChecking)
    to the first question after the engine created or updated its node's machine, as a restarted or new instance
    is health-checked again (Elastic Load Balancing API Reference, TargetHealth); `healthy` otherwise."""
    prod: Prod
    failing: set[str] = field(default_factory=set)
    answered: set[tuple[str, str, int]] = field(default_factory=set)  # (node's machine, arn, changes seen)
    exported: tuple[int, list[dict]] = (-1, [])  # the state's resources, as of that many operations of the cloud

    def resources(self) -> list[dict]:
        # Exported again only when the cloud changed something: each export is a run of the CLI.
        if self.exported[0] != self.prod.cloud.operations:
            self.exported = (self.prod.cloud.operations,
                             self.prod.engine.stack.export_stack().deployment["resources"])
        return self.exported[1]

    def describe_target_health(self, target_group_arn: str) -> list[dict]:
        rows = []
        for resource in self.resources():
            outputs = resource.get("outputs") or {}
            if resource["type"] != TARGET_ATTACHMENT or outputs.get("targetGroupArn") != target_group_arn:
                continue
            name = resource["urn"].rsplit("::", 1)[1]  # cluster-<listener>-haproxy-N
            node = name.split("-", 2)[2]
            machine = f"cluster-{node}"
            changes = sum(1 for op, changed in self.prod.cloud.machines if changed == machine and op != "delete")
            health = {"State": "healthy"}
            if node in self.failing:
                health = {"State": "unhealthy", "Reason": "Target.FailedHealthChecks"}
            elif changes and (machine, target_group_arn, changes) not in self.answered:
                self.answered.add((machine, target_group_arn, changes))
                health = {"State": "initial", "Reason": "Elb.InitialHealthChecking"}
            rows.append({"Target": {"Id": outputs["targetId"], "Port": outputs["port"]}, "TargetHealth": health})
        return rows


def entry_machines(prod: Prod) -> dict[str, tuple[str, str]]:
    """Each HAProxy node's (instance id, instance type) in the stack's state."""
    return {r["urn"].rsplit("::cluster-", 1)[1]: (r["id"], r["inputs"]["instanceType"])
            for r in prod.engine.stack.export_stack().deployment["resources"]
            if r["type"] == INSTANCE and r["urn"].rsplit("::cluster-", 1)[1] in ("haproxy-1", "haproxy-2")}


def test_make_rollout_steps_the_haproxy_pair_one_node_at_a_time_only_while_the_other_is_healthy_in_the_nlb(
        prod, capsys, ca):
    # A new instance type for the HAProxy pair (held back like a server's until the rollout releases it), nothing
    # pending on the Neo4j servers. haproxy-2 fails the NLB's health checks: haproxy-1's step does not start (the
    # pair never has both nodes out) and nothing changes. Healthy again, the rollout steps haproxy-1, waits for its
    # targets to be healthy, then haproxy-2 (scripts/neo4j_ops/rollout/entry.py).
    prod.engine.stack.set_config("neo4j:haproxyInstanceType", auto.ConfigValue("m6i.xlarge"))
    before, machines = prod.stack_file.read_bytes(), entry_machines(prod)
    assert {node: kind for node, (_, kind) in machines.items()} == {"haproxy-1": "m6i.large", "haproxy-2": "m6i.large"}
    nlb = NlbStandin(prod, failing={"haproxy-2"})
    code, out, err = rollout(prod, capsys, recorded(ca), entry_health=nlb)
    assert code == 1, out + err
    steps = {line.split()[1]: line for line in out.splitlines() if line[:1].isdigit()}
    assert list(steps) == ["haproxy-1", "haproxy-2"], out
    assert "not started: haproxy-2 is not healthy in the NLB (write: unhealthy (Target.FailedHealthChecks), " \
           "read: unhealthy (Target.FailedHealthChecks))" in steps["haproxy-1"], out
    assert "resume with: make rollout STACK=prod FROM=haproxy-1" in out
    assert prod.cloud.changes == [] and entry_machines(prod) == machines
    assert prod.stack_file.read_bytes() == before

    nlb.failing.clear()
    code, out, err = rollout(prod, capsys, recorded(ca), entry_health=nlb)
    assert code == 0, out + err
    assert "nothing pending (left alone): core-1, core-2, core-3, replica-1" in out, out
    # One node per step, haproxy-1 first, and nothing else: an instance type is updated in place (pulumi-aws's schema:
    # instance_type is not ForceNew; tests/support/engine/standin_provider.py FORCES_REPLACEMENT), so the nodes keep
    # their instance ids, their NLB attachments and A records.
    assert prod.cloud.changes == [("update", "cluster-haproxy-1"), ("update", "cluster-haproxy-2")], \
        prod.cloud.changes
    assert {node: instance for node, (instance, _) in entry_machines(prod).items()} == \
        {node: instance for node, (instance, _) in machines.items()}
    # Each node's after-gate saw its targets health-checked again, then healthy; the step waited for it.
    for node in ("haproxy-1", "haproxy-2"):
        assert f"{node}: NLB targets write: initial (Elb.InitialHealthChecking)" in err, err
        assert f"{node}: NLB targets write: healthy, read: healthy" in err, err
    assert {node: kind for node, (_, kind) in entry_machines(prod).items()} == {"haproxy-1": "m6i.xlarge",
                                                                                "haproxy-2": "m6i.xlarge"}
    assert prod.stack_file.read_bytes() == before
    assert list(prod.temp.glob("neo4j-rollout-*")) == []


OTHER_SERVERS = tuple(f"cluster-{s}" for s in SERVERS)


def of_other_servers(changes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The changes to a resource of a Neo4j server other than replica-2 (its machine, volume, attachment, DNS…)."""
    return [(op, name) for op, name in changes if any(name == s or name.startswith(f"{s}-") for s in OTHER_SERVERS)]


def assert_tags_only(err: str, machines: list[tuple[str, str]]) -> None:
    """The engine's own lines for these machines' updates say: their tags, nothing else."""
    for _op, name in machines:
        lines = [line for line in err.splitlines() if f"aws:ec2:Instance {name} " in line]
        assert lines and all(line.endswith("[diff: ~tags]") for line in lines), lines


def scaling_cluster(scenario: str, version: str):
    from tests.support.scaling_replay import transport

    return transport(scenario, version)


def test_make_scale_adds_and_removes_a_secondary_touching_no_other_neo4j_server(prod, capsys, ca):
    from scripts import scale

    # Out: neo4j:replicaCount 2, then `make scale STACK=prod UP=1`: the `pulumi up` creates replica-2's machine,
    # then the Cypher (the recorded 2025 cluster lists replica-2, enabled at once) sets the topology.
    prod.engine.stack.set_config("neo4j:replicaCount", auto.ConfigValue("2"))
    prod.cloud.cluster, prod.cloud.changes, prod.cloud.machines = None, [], []
    recorded_out = scaling_cluster("scale-out-2025-auto-enabled.json", "2025.10.1")
    code = scale.main(["--stack", "prod", "--ca-cert", str(ca), "--up"], transport=recorded_out)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "scale out (Neo4j 2025.10.1): ran 1 statement" in out
    # No machine but the new one is created or replaced. Updated in place, their tags only: core-1, which runs the
    # backup job: the job in the tooling archive (cluster-tooling) is rendered for the new topology, and the
    # server's ToolingSha256 tag follows the archive ("before each backup that server fetches our tooling archive
    # again when its ETag changed"); the two HAProxy nodes, whose haproxy.cfg lists the servers (`pulumi up`
    # "publishes a changed haproxy.cfg to the backup bucket … and replaces no instance: each node checks every 2
    # minutes"; their HaproxyConfigSha256 tag follows it). README, Adding and removing replicas; The entry point.
    assert sorted(prod.cloud.machines) == [("create", "cluster-replica-2"), ("update", "cluster-core-1"),
                                           ("update", "cluster-haproxy-1"), ("update", "cluster-haproxy-2")], \
        prod.cloud.machines
    assert_tags_only(err, [m for m in prod.cloud.machines if m[0] == "update"])
    # Of the other Neo4j servers' resources (volumes, attachments, DNS records, certificates…) nothing else.
    assert of_other_servers(prod.cloud.changes) == [("update", "cluster-core-1")], prod.cloud.changes
    # In: neo4j:replicaCount 1. The leaving server's data volume is protected; the README's step first
    # (`pulumi state unprotect <volume-urn>` before the `up` that removes it), then `make scale STACK=prod UP=1`:
    # the Cypher moves the databases off replica-2 (recorded 5.26 cluster), then the `pulumi up` removes it.
    prod.engine.stack.set_config("neo4j:replicaCount", auto.ConfigValue("1"))
    volume = next(r["urn"] for r in prod.engine.stack.export_stack().deployment["resources"]
                  if r["urn"].endswith("aws:ebs/volume:Volume::cluster-replica-2-data"))
    unprotected = prod.engine.cli("state", "unprotect", volume, "--yes")
    assert unprotected.returncode == 0, unprotected.stderr
    prod.cloud.changes, prod.cloud.machines = [], []
    recorded_in = scaling_cluster("scale-in-5.26.json", "5.26.30")
    code = scale.main(["--stack", "prod", "--ca-cert", str(ca), "--up"], transport=recorded_in)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "pulumi up removed the machines of replica-2.prod.neo4j.internal:7687" in out
    assert sorted(prod.cloud.machines) == [("delete", "cluster-replica-2"), ("update", "cluster-core-1"),
                                           ("update", "cluster-haproxy-1"), ("update", "cluster-haproxy-2")], \
        prod.cloud.machines
    assert_tags_only(err, [m for m in prod.cloud.machines if m[0] == "update"])
    assert of_other_servers(prod.cloud.changes) == [("update", "cluster-core-1")], prod.cloud.changes
