"""The rollout loop (scripts/rollout.py → scripts/neo4j_ops/rollout/) against recorded Neo4j Enterprise
responses (tests/fixtures/enterprise/: the 5.26 and 4.4 shapes) with a fake Automation API stack at the
Pulumi boundary: ordering, the gates before and after each step, stop-on-failure and resume, idempotent
re-runs, --dry-run; and the Automation API adapter against a fake `pulumi.automation` (no Pulumi CLI can
run here). The whole command runs; only the transport is replayed and the stack faked."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.recorded import load_scenario
from scripts.neo4j_ops.rollout import main
from scripts.neo4j_ops.rollout.stack import (
    ATTACHMENT,
    CONTAINER,
    INSTANCE,
    RECORD,
    RELEASE_KEY,
    AutomationStack,
    resource_urns,
    server_resources,
    urn_parts,
)
from scripts.neo4j_ops.shared.errors import OperationError, UsageError
from tests.conftest import ENTERPRISE
from tests.support.rollout_fakes import EVERYTHING, FakeStack, RestartingCluster, run_5, run_44

pytestmark = pytest.mark.usefixtures("rollout_env")


def test_every_server_in_order_each_gated_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack(dict(EVERYTHING), on_apply=lambda server: cluster.restart(server, 2))
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 0, out + err
    # secondaries, primaries leading nothing, leaders (core-1 writes neo4j, core-2 system) last.
    assert stack.applied == ["replica-1", "core-3", "core-1", "core-2"]
    assert stack.asked == [["core-1", "core-2", "core-3", "replica-1", "haproxy-1", "haproxy-2"]]
    # A progress line per server while it is away, and when it is back.
    for server in stack.applied:
        assert f"{server}: not answering: cannot reach {server}.prod.neo4j.internal:7687" in err
        assert f"{server}: back: answers, Enabled and Available in a formed cluster, hosting neo4j, system, caught up" \
            in err
    # core-1's step made neo4j read-only there first; neo4j moved to core-2, which then led both and went last,
    # moving neo4j back to core-1 (done by then); system, which cannot be read-only, by the election after the stop.
    assert cluster.set_read_only == [("core-1.prod.neo4j.internal:7687", ["neo4j"]),
                                     ("core-2.prod.neo4j.internal:7687", ["neo4j"])]
    assert "replica-1 [1/4]: secondary" in err and "core-2 [4/4]: leader of neo4j, system" in err
    assert "core-1: leadership moved (neo4j → core-2)" in err and "core-2: leadership moved (neo4j → core-1)" in err
    assert "leadership moved first: neo4j → core-2" in out
    assert "system: by the election after the stop (system cannot be made read-only)" in out
    assert out.count(" done ") == 4 and "resume with" not in out


def test_the_order_of_44_comes_from_the_cluster_overview_from_recorded_enterprise_4_4(capsys):
    cluster = RestartingCluster("cluster-4.4-healthy.json", TlsOptions())
    stack = FakeStack(dict(EVERYTHING), on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_44(capsys, stack, cluster)
    assert code == 0, out + err
    assert stack.applied == ["replica-1", "core-2", "core-3", "core-1"]  # core-1 LEADER of both
    assert "roles from dbms.cluster.overview()" in out
    assert "core-1: back: answers, listed in dbms.cluster.overview() of a formed cluster, hosting neo4j, system" in err
    assert cluster.recorded.calls_named("show_servers") == []


def moved_leader(scenario: str, database: str, new_writer: str) -> dict:
    """The recorded cluster after an election: `new_writer` writes `database` in every server's view."""
    moved = copy.deepcopy(load_scenario(ENTERPRISE / scenario))
    for endpoint in moved["endpoints"].values():
        for row in (endpoint.get("responses", {}).get("show_databases") or {}).get("records", []):
            if row["name"] == database:
                row["writer"] = row["address"].startswith(f"{new_writer}.")
    return moved


def test_the_order_is_computed_again_before_each_step_from_recorded_enterprise_responses(capsys, ca):
    # While replica-1's step runs, neo4j's leadership moves from core-1 to core-3: core-1 now leads nothing
    # and goes next; core-3, now a leader, waits for the end.
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))

    def apply(server):
        if server == "replica-1":
            cluster.swap(moved_leader("cluster-5.26-healthy.json", "neo4j", "core-3"))
        cluster.restart(server, 1)

    stack = FakeStack(dict(EVERYTHING), on_apply=apply)
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 0, out + err
    # core-3 (neo4j) and core-2 (system) lead one database each: they keep the order they had (ties stable).
    assert stack.applied == ["replica-1", "core-1", "core-3", "core-2"]
    assert "core-1 [2/4]: primary leading nothing" in err and "core-3 [3/4]: leader of neo4j" in err
    assert "core-3: leadership moved (neo4j → core-1)" in err and "core-2 [4/4]: leader of system" in err


def test_an_unhealthy_cluster_stops_before_anything_is_touched_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-lagging-secondary.json", TlsOptions(str(ca)))
    stack = FakeStack(dict(EVERYTHING))
    code, out, err = run_5(capsys, ca, stack, cluster, "--max-lag", "0.5")
    assert code == 1, out + err
    assert stack.applied == []
    assert "FAILED" in out and "not started: the cluster is not healthy" in out and "replica-1" in out
    assert "resume with: make rollout STACK=prod FROM=replica-1" in out


def test_the_first_failed_up_stops_the_rollout_and_leaves_the_rest_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))

    def apply(server):
        if server == "core-3":
            raise OperationError("pulumi: up of core-3 of stack prod failed: error: InsufficientInstanceCapacity")
        cluster.restart(server, 1)

    stack = FakeStack(dict(EVERYTHING), on_apply=apply)
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 1, out + err
    assert stack.applied == ["replica-1", "core-3"]  # core-1 and core-2 untouched
    lines = {line.split()[1]: line for line in out.splitlines() if line[:1].isdigit()}
    assert " done " in lines["replica-1"]
    assert "FAILED" in lines["core-3"] and "InsufficientInstanceCapacity" in lines["core-3"]
    assert "not started" in lines["core-1"] and "not started" in lines["core-2"]
    assert "resume with: make rollout STACK=prod FROM=core-3" in out


def test_a_server_that_does_not_come_back_fails_its_gate_within_the_limit_from_recorded_enterprise_responses(
        capsys, ca):
    # After replica-1's step the cluster lists it as Free (cluster-5.26-free-server's shape: started, never
    # enabled), so it never becomes Enabled again: the gate gives up at --timeout and nothing else is touched.
    free = load_scenario(ENTERPRISE / "rollout-5.26-replica-free.json")
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack(dict(EVERYTHING), on_apply=lambda server: cluster.swap(copy.deepcopy(free)))
    code, out, err = run_5(capsys, ca, stack, cluster, "--timeout", "1s")
    assert code == 1, out + err
    assert stack.applied == ["replica-1"]
    assert "replica-1 is Free, expected Enabled" in err
    assert "applied, but not back within 1 s" in out and "FROM=replica-1" in out


def test_a_rerun_skips_what_is_done_and_resumes_where_it_stopped_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    # As after a stop at core-1: replica-1 and core-3 were applied, so the preview finds nothing on them.
    stack = FakeStack({"core-1": ["replace (ami)"], "core-2": ["update (instanceType)"]},
                      on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 0, out + err
    assert stack.applied == ["core-1", "core-2"]
    assert "nothing pending (left alone): core-3, replica-1" in out
    # Once more: nothing pending anywhere, nothing applied.
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 0 and stack.applied == ["core-1", "core-2"]
    assert "nothing pending on any server" in out


def test_from_leaves_the_servers_before_it_alone_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack(dict(EVERYTHING), on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_5(capsys, ca, stack, cluster, "--from", "core-1")
    assert code == 0, out + err
    assert stack.applied == ["core-1", "core-2"]
    assert out.count("before --from core-1: left alone this run") == 2


def test_from_names_a_server_of_the_cluster(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    code, out, err = run_5(capsys, ca, FakeStack(dict(EVERYTHING)), cluster, "--from", "core-9")
    assert code == 2 and "--from core-9: no such server (servers: core-1, core-2, core-3, replica-1, haproxy-1, " \
        "haproxy-2)" in err
    assert "Traceback" not in err


def test_dry_run_prints_the_order_and_why_and_touches_nothing_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack(dict(EVERYTHING))
    code, out, err = run_5(capsys, ca, stack, cluster, "--dry-run")
    assert code == 0, out + err
    assert stack.applied == []
    rows = [line.split()[1] for line in out.splitlines() if line[:1].isdigit()]
    assert rows == ["replica-1", "core-3", "core-1", "core-2"]
    assert "secondary: its absence costs neither availability nor fault tolerance" in out
    assert "pending: replace (userDataBase64, ami)" in out
    assert "NOT healthy" not in out
    # Pulumi.prod.yaml plans 5 primaries and 2 secondaries; the recorded cluster runs 3 and 1.
    assert "server set: the stack plans core-4, core-5, replica-2, not running yet" in out
    assert "make scale STACK=prod" in out


def test_dry_run_of_an_unhealthy_cluster_says_a_run_would_stop_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-server-down.json", TlsOptions(str(ca)))
    code, out, err = run_5(capsys, ca, FakeStack(dict(EVERYTHING)), cluster, "--dry-run")
    assert code == 0, out + err
    assert "the cluster is NOT healthy now" in out and "replica-1" in out
    assert "a real run would stop before the first step" in out


def test_json_report_from_recorded_enterprise_responses(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack({"replica-1": ["replace (ami)"]}, on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_5(capsys, ca, stack, cluster, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert [s["server"] for s in document["steps"]] == ["replica-1"]
    assert document["steps"][0]["status"] == "done" and document["failed"] is False
    assert document["rolesFrom"] == "SHOW DATABASES" and document["resume"] is None


def test_dry_run_with_pending_needs_no_pulumi(capsys, ca, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    argv = ["--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert", str(ca), "--dry-run",
            "--pending", "core-2,replica-1"]
    code = main(argv, transport=cluster)
    out = capsys.readouterr().out
    assert code == 0, out
    assert [line.split()[1] for line in out.splitlines() if line[:1].isdigit()] == ["replica-1", "core-2"]


def test_applying_without_the_pulumi_cli_is_a_usage_error(capsys, ca, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    code = main(["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"),
                 "--ca-cert", str(ca)])
    err = capsys.readouterr().err
    assert code == 2
    assert "needs the pulumi CLI" in err and "https://www.pulumi.com/docs/install/" in err
    assert "Traceback" not in err


# --- the Automation API adapter, against a fake pulumi.automation -----------------------------------------


def urn(kind: str, name: str, parent: str = "neo4j-cluster:aws:Cluster$neo4j-cluster:aws:Neo4jServers") -> str:
    return f"urn:pulumi:prod::neo4j-cluster::{parent}${kind}::{name}"


STATE = [urn(kind, name) for server in ("core-1", "core-2", "replica-1")
         for kind, name in server_resources("aws", "prod", server)] + \
    [urn("aws:ec2/instance:Instance", "cluster-haproxy", "neo4j-cluster:aws:LoadBalancer")]


class FakeAutoStack:
    def __init__(self, stack_file: Path):
        self.stack_file = stack_file
        self.previews: list[dict] = []
        self.ups: list[dict] = []

    def export_stack(self):
        return SimpleNamespace(deployment={"resources": [{"urn": u} for u in STATE]})

    def _config(self, config_file):
        return yaml.safe_load(Path(config_file).read_text())["config"]

    def preview(self, *, diff, target, config_file, on_event):
        self.previews.append({"target": target, "config": self._config(config_file)})
        ops = {"cluster-core-1": "same", "cluster-core-2": "update", "cluster-replica-1": "replace"}
        for u in target:
            name = urn_parts(u)[1]
            for op in (["create-replacement", "replace"] if ops[name] == "replace" else [ops[name]]):
                metadata = SimpleNamespace(op=SimpleNamespace(value=op), urn=u, diffs=["userDataBase64"], keys=None)
                on_event(SimpleNamespace(resource_pre_event=SimpleNamespace(metadata=metadata)))
        on_event(SimpleNamespace(resource_pre_event=None))

    def up(self, *, target, target_dependents, config_file, on_output):
        self.ups.append({"target": target, "dependents": target_dependents, "config": self._config(config_file),
                         "file": config_file})
        on_output("Updating (prod)\n")


@pytest.fixture
def automation(tmp_path):
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text("# the operator's comments stay\nconfig:\n  neo4j:platform: aws\n  neo4j:coreCount: 3\n")
    auto_stack = FakeAutoStack(stack_file)
    selected = []

    def select_stack(name, work_dir):
        selected.append((name, work_dir))
        return auto_stack

    return SimpleNamespace(module=SimpleNamespace(select_stack=select_stack), stack=auto_stack, selected=selected,
                           dir=tmp_path, file=stack_file)


def test_pending_comes_from_a_preview_with_every_server_released(automation):
    stack = AutomationStack("prod", "aws", automation.dir, automation.module)
    assert automation.selected == [("prod", str(automation.dir))]
    changes = stack.pending(["core-1", "core-2", "core-3", "replica-1"])
    assert changes == {"core-1": [], "core-2": ["update (userDataBase64)"], "core-3": [],
                       "replica-1": ["create-replacement (userDataBase64)", "replace (userDataBase64)"]}
    (preview,) = automation.stack.previews
    assert preview["config"][RELEASE_KEY] == ["core-1", "core-2", "core-3", "replica-1"]
    # Only each server's own instance is previewed (core-3 has no resources in the state).
    assert sorted(urn_parts(u) for u in preview["target"]) == [
        (INSTANCE, "cluster-core-1"), (INSTANCE, "cluster-core-2"), (INSTANCE, "cluster-replica-1")]


def test_a_step_targets_the_server_its_attachment_and_record_with_only_it_released(automation):
    stack = AutomationStack("prod", "aws", automation.dir, automation.module)
    before = automation.file.read_text()
    lines = []
    stack.apply("core-2", lines.append)
    (up,) = automation.stack.ups
    assert sorted(urn_parts(u) for u in up["target"]) == [
        (INSTANCE, "cluster-core-2"), (ATTACHMENT, "cluster-core-2-data-attachment"), (RECORD, "cluster-core-2")]
    assert up["dependents"] is True
    assert up["config"][RELEASE_KEY] == ["core-2"] and up["config"]["neo4j:coreCount"] == 3
    # The release lived in a temporary copy: the stack file is untouched, the copy gone.
    assert automation.file.read_text() == before and not Path(up["file"]).exists()
    assert lines == ["core-2: pulumi: Updating (prod)"]


def test_a_stack_file_that_releases_servers_itself_is_refused(automation):
    automation.file.write_text("config:\n  neo4j:platform: aws\n  neo4j:rolloutRelease:\n    - core-1\n    - core-2\n")
    with pytest.raises(UsageError, match="sets neo4j:rolloutRelease to core-1, core-2: every plain `pulumi up`"):
        AutomationStack("prod", "aws", automation.dir, automation.module)
    assert automation.selected == []


def test_a_step_for_a_server_not_in_the_state_fails_plainly(automation):
    stack = AutomationStack("prod", "aws", automation.dir, automation.module)
    with pytest.raises(OperationError, match="core-3: none of its resources is in stack prod's state"):
        stack.apply("core-3", lambda _line: None)


def test_a_failing_pulumi_call_is_one_line(automation):
    class CommandError(Exception):
        stderr = "error: update failed\n  aws:ec2:Instance cluster-core-2: InsufficientInstanceCapacity"

    def fail(**_kwargs):
        raise CommandError("code: 255")

    automation.stack.up = fail
    stack = AutomationStack("prod", "aws", automation.dir, automation.module)
    with pytest.raises(OperationError) as caught:
        stack.apply("core-2", lambda _line: None)
    assert "\n" not in str(caught.value) and "InsufficientInstanceCapacity" in str(caught.value)


def test_resource_urns_pick_a_servers_own_resources_by_type_and_name():
    assert sorted(urn_parts(u)[1] for u in resource_urns(STATE, "aws", "prod", "core-1")) == \
        ["cluster-core-1", "cluster-core-1", "cluster-core-1-data-attachment"]
    docker_state = [urn(CONTAINER, "neo4j-local-core-1", "neo4j-cluster:docker:Neo4jServers"),
                    urn(CONTAINER, "neo4j-local-core-10", "neo4j-cluster:docker:Neo4jServers")]
    assert resource_urns(docker_state, "docker", "local", "core-1") == docker_state[:1]


# --- the per-server resource names follow both programs' naming ------------------------------------------


@pytest.fixture(scope="module", params=["dev", "local"])
def planned(request, tmp_path_factory):
    from tests.conftest import stack_config
    from tests.support.plans import make_plan

    return make_plan(request.param, request.param, stack_config(request.param),
                     tmp_path_factory.mktemp(request.param) / "out")


def test_every_server_of_the_plan_has_exactly_the_resources_a_step_targets(planned):
    platform = planned.settings.platform
    present = {(r["type"], r["name"]): r["parent"] for r in planned.resources}
    targeted = set()
    for server in planned.topology.servers:
        wanted = server_resources(platform, planned.stack, server.name)
        missing = [w for w in wanted if w not in present]
        assert not missing, f"{server.name}: the plan has no {missing}"
        # Every one of them is a child of the program's Neo4jServers component.
        assert {present[w].split("::")[0] for w in wanted} == {f"neo4j-cluster:{platform}:Neo4jServers"}
        targeted |= set(wanted)
    # And the server's own resource (instance / container) of every Neo4j server is targeted by some step.
    own_kind = server_resources(platform, planned.stack, "x")[0][0]
    servers_own = {(t, n) for (t, n), parent in present.items()
                   if t == own_kind and parent.startswith(f"neo4j-cluster:{platform}:Neo4jServers")}
    assert servers_own and servers_own <= targeted


def test_the_command_has_help_and_one_line_errors():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    shown = subprocess.run([sys.executable, str(root / "scripts" / "rollout.py"), "--help"], capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0
    for flag in ("--stack", "--dry-run", "--from", "--timeout", "--max-lag", "--pending", "--servers", "--ca-cert"):
        assert flag in shown.stdout
    bad = subprocess.run([sys.executable, str(root / "scripts" / "rollout.py"), "--timeout", "soon", "--dry-run",
                          "--pending", "core-1", "--uri", "bolt://127.0.0.1:1"], capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin", "NEO4J_PASSWORD": "x"})
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["rollout: --timeout 'soon': not a duration; use e.g. 20m, 90s, 1h30m "
                                               "or seconds"]
