"""dev and prod under the real Pulumi engine (v3.276.0, built by tests/support/engine/cli.py) with STAND-IN aws and
tls providers (tests/support/engine/standin_provider.py: they create nothing; inputs become state, outputs are the
plan mocks' own): preview and up succeed, and a second preview with --expect-no-changes passes, so the program is
stable under the engine (the plan's mocks accept anything and cannot show that: before the mocks computed the
TLS keys' and requests' PEMs, this second preview replaced 13 certificates)."""
from __future__ import annotations

import time

import pytest
from pulumi import automation as auto

from tests.support.engine.stack import engine_output, engine_stack
from tests.support.engine.stack_secrets import SECRETS


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_up_and_a_second_preview_with_no_changes(stack, tmp_path):
    with engine_stack(stack, tmp_path, secrets=SECRETS[stack]) as engine:
        started = time.monotonic()
        preview = engine.preview(on_output=engine_output)
        assert preview.change_summary.get("create", 0) > 100, preview.change_summary
        up = engine.up()
        assert up.summary.result == "succeeded"
        assert up.summary.resource_changes.get("create") == preview.change_summary["create"], (
            up.summary.resource_changes, preview.change_summary)
        again = engine.preview(expect_no_changes=True, on_output=engine_output)
        assert set(again.change_summary) == {"same"}, again.change_summary
        engine_output(f"engine: {stack}: preview, up ({up.summary.resource_changes['create']} resources) and a second "
              f"preview in {time.monotonic() - started:.1f} s")


def _changed_urns(engine, **options) -> dict[str, str]:
    """urn → operation of every step a preview proposes other than `same`."""
    return {urn: op for urn, (op, _) in _steps(engine, **options).items()}


def _steps(engine, **options) -> dict[str, tuple[str, tuple[str, ...]]]:
    """urn → (operation, the properties that differ) of every step a preview proposes other than `same`."""
    steps: dict[str, tuple[str, tuple[str, ...]]] = {}

    def on_event(event) -> None:
        pre = event.resource_pre_event
        if pre is not None and pre.metadata.op.value != "same":
            steps[pre.metadata.urn] = (pre.metadata.op.value, tuple(pre.metadata.diffs or ()))

    engine.preview(on_event=on_event, **options)
    return steps


def test_an_update_keeps_the_alias_keystore_secret(tmp_path):
    # Issue 21: changing the keystore "makes stored alias credentials unreadable", so a later `pulumi up` must
    # never replace or rewrite it. An unrelated change (the retention) updates the lifecycle rules and nothing of
    # the keystore's secret; a real update then leaves its state as it was.
    with engine_stack("prod", tmp_path, secrets=SECRETS["prod"]) as engine:
        engine.up()
        keystore = "aws:secretsmanager/secretVersion:SecretVersion::cluster-alias-keystore"
        before = [r for r in engine.stack.export_stack().deployment["resources"] if r["urn"].endswith(keystore)]
        assert len(before) == 1, "prod has one alias keystore secret version"
        engine.stack.set_config("neo4j:backupRetentionDays", auto.ConfigValue("31"))
        steps = _changed_urns(engine)
        assert steps and not [urn for urn in steps if "alias-keystore" in urn], steps
        engine.up()
        after = [r for r in engine.stack.export_stack().deployment["resources"] if r["urn"].endswith(keystore)]
        assert after == before


NEO4J_INSTANCES = ("cluster-core-", "cluster-replica-")


def test_day_two_changes_leave_the_running_servers_and_grow_volumes_in_place(tmp_path, deployed_dev):
    # The README's promises (Operating the AWS stack): a new instance type or Neo4j conf is held back on running
    # servers until `make rollout` releases one (ignore_changes, applied by the engine), and a larger
    # neo4j:dataVolumeSizeGb updates the volumes in place. Replacement itself is the stand-in provider's answer
    # (standin_provider.FORCES_REPLACEMENT), so only what the engine does is shown here.
    with engine_stack("dev", tmp_path, secrets=SECRETS["dev"], deployed=deployed_dev) as engine:
        engine.stack.set_all_config({"neo4j:coreInstanceType": auto.ConfigValue("t3.xlarge"),
                                     "neo4j:replicaInstanceType": auto.ConfigValue("t3.xlarge"),
                                     "neo4j:extraConfig": auto.ConfigValue('{"db.transaction.timeout": "30s"}')})
        steps = _steps(engine)
        servers = {urn.rsplit("::", 1)[1]: step for urn, step in steps.items()
                   if "aws:ec2/instance:Instance::" in urn and urn.rsplit("::", 1)[1].startswith(NEO4J_INSTANCES)}
        # Only the backup server's tags change in place: its tooling archive's job is sized for the new type
        # (ToolingSha256), which no restart follows.
        assert servers == {"cluster-core-1": ("update", ("tags",))}, servers
        engine.stack.set_config("neo4j:dataVolumeSizeGb", auto.ConfigValue("40"))
        steps = _changed_urns(engine)
        volumes = {urn.rsplit("::", 1)[1]: op for urn, op in steps.items() if "aws:ebs/volume:Volume::" in urn}
        assert volumes and set(volumes.values()) == {"update"}, volumes


def test_destroy_deletes_all_but_the_protected_data_volumes_and_fails(tmp_path, deployed_dev):
    # Protected data volumes (neo4j:dataVolumesDeletable unset): `pulumi destroy` deletes everything else, then
    # fails on them (measured here: the engine does not refuse up front), so the stores survive in the state.
    with engine_stack("dev", tmp_path, secrets=SECRETS["dev"], deployed=deployed_dev) as engine:
        with pytest.raises(auto.CommandError) as refused:
            engine.stack.destroy()
        assert "protected" in str(refused.value)
        left = engine.stack.export_stack().deployment["resources"]
        custom = sorted(r["urn"].rsplit("::", 1)[1] for r in left if r.get("custom") and "providers:" not in r["type"])
        assert custom == sorted(f"cluster-{s}-data" for s in ("core-1", "core-2", "core-3", "replica-1",
                                                              "monitoring")), custom
        assert all(r.get("protect") for r in left if r["urn"].rsplit("::", 1)[1] in custom)


def test_a_scale_out_replaces_no_machine_and_a_scale_in_deletes_only_the_leaving_secondary(tmp_path, deployed_dev):
    # Issue 22: with the servers listed in prometheus.yml, one more secondary changed the monitoring node's user
    # data, and so replaced the Prometheus + Grafana machine at every scale-out. Prometheus now discovers them.
    with engine_stack("dev", tmp_path, secrets=SECRETS["dev"], deployed=deployed_dev) as engine:
        engine.stack.set_config("neo4j:replicaCount", auto.ConfigValue("2"))
        steps = _steps(engine)
        replaced = {urn.rsplit("::", 1)[1]: op for urn, (op, _) in steps.items()
                    if op not in ("create", "update", "same")}
        assert replaced == {}, replaced
        created = sorted(urn.rsplit("::", 1)[1] for urn, (op, _) in steps.items()
                         if op == "create" and "aws:ec2/instance:Instance::" in urn)
        assert created == ["cluster-replica-2"], created
        # And back. The leaving server's data volume is protected, so the engine refuses the scale-in until it is
        # unprotected (README, Adding and removing replicas: "`pulumi state unprotect <volume-urn>` before the `up`
        # that removes it"); then the scale-in deletes that secondary alone, no other Neo4j server's instance.
        engine.up()
        engine.stack.set_config("neo4j:replicaCount", auto.ConfigValue("1"))
        with pytest.raises(auto.CommandError) as refused:
            _steps(engine)
        assert "cluster-replica-2-data" in str(refused.value) and "protected" in str(refused.value)
        volume = next(r["urn"] for r in engine.stack.export_stack().deployment["resources"]
                      if r["urn"].endswith("aws:ebs/volume:Volume::cluster-replica-2-data"))
        unprotected = engine.cli("state", "unprotect", volume, "--yes")
        assert unprotected.returncode == 0, unprotected.stderr
        steps = _steps(engine)
        instances = {urn.rsplit("::", 1)[1]: op for urn, (op, _) in steps.items()
                     if "aws:ec2/instance:Instance::" in urn and urn.rsplit("::", 1)[1].startswith(NEO4J_INSTANCES)}
        assert {name: op for name, op in instances.items() if op != "update"} == {"cluster-replica-2": "delete"}
        assert [name for name, op in instances.items() if op == "update"] in ([], ["cluster-core-1"]), instances


def test_the_outputs_the_engine_exports_are_the_plans(tmp_path, deployed_dev):
    # check, backup and the other commands read `pulumi stack output --json` (--outputs-file, StackOutputs); the
    # plan's mocks promise the same document. Under the engine (stand-in providers answering as the mocks do)
    # they are equal, key by key; secrets decrypted by the engine are the mocks' "[secret]" in the plan.
    from components.outputs import StackOutputs
    from tests.conftest import stack_config
    from tests.support.plans import plan_config

    (tmp_path / "plan").mkdir()
    planned, _ = plan_config("dev", stack_config("dev"), tmp_path / "plan" / "out")
    with engine_stack("dev", tmp_path / "engine", secrets=SECRETS["dev"], deployed=deployed_dev) as engine:
        exported = {name: output.value for name, output in engine.stack.outputs().items()}
    # The engine exports no null (dev has no off-site account: offsiteAccountPolicies); from_json reads it as None.
    assert set(exported) == {name for name, value in planned["outputs"].items() if value is not None}
    exported = {name: exported.get(name) for name in planned["outputs"]}
    for name, value in planned["outputs"].items():
        assert value == "[secret]" or exported[name] == value, name
    assert StackOutputs.from_json(exported).servers == StackOutputs.from_json(planned["outputs"]).servers


def test_the_rollouts_pulumi_steps_release_one_server_at_a_time(tmp_path, deployed_dev):
    # The rollout's Pulumi boundary (scripts/neo4j_ops/rollout/stack.py AutomationStack: pending and apply) on the
    # real engine: a new instance type is pending on every Neo4j server; one step releases one server (a targeted
    # `up` with neo4j:rolloutRelease in a copy of the stack file) and changes it alone; the stack file is as it was.
    from types import SimpleNamespace

    from scripts.neo4j_ops.rollout.stack import AutomationStack

    with engine_stack("dev", tmp_path, secrets=SECRETS["dev"], deployed=deployed_dev) as engine:
        engine.stack.set_config("neo4j:coreInstanceType", auto.ConfigValue("t3.xlarge"))
        engine.stack.set_config("neo4j:replicaInstanceType", auto.ConfigValue("t3.xlarge"))
        stack_file = engine.work_dir / "Pulumi.dev.yaml"
        before = stack_file.read_text()
        rollout = AutomationStack("dev", "aws", work_dir=engine.work_dir,
                                  automation=SimpleNamespace(select_stack=lambda name, work_dir: engine.stack))
        servers = ["core-1", "core-2", "core-3", "replica-1"]
        pending = rollout.pending(servers)
        assert all(any(change.startswith(("update", "replace")) for change in pending[s]) for s in servers), pending
        state = {r["urn"]: r for r in rollout.state_resources()}
        rollout.apply("replica-1", log=lambda line: None)
        changed = sorted(urn.rsplit("::", 1)[1] for urn, r in ((r["urn"], r) for r in rollout.state_resources())
                         if state.get(urn, {}).get("inputs") != r.get("inputs"))
        assert changed and all(name.startswith("cluster-replica-1") for name in changed), changed
        after = rollout.pending(servers)
        assert after["replica-1"] == [] and all(after[s] for s in servers if s != "replica-1"), after
        assert stack_file.read_text() == before
