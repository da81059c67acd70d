"""The one plan helper of the tests: run `scripts/plan.py` on a config as a user would (a process of its own:
Pulumi's mocks are process-global; forked from a warm interpreter, tests/support/forkrun.py) and read what it
wrote, with the settings, topology and render it came from."""
from __future__ import annotations

import argparse
import base64
import gzip
import json
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from components.render import RenderedCluster, render_cluster
from components.settings import Settings, load_settings
from components.topology import ClusterTopology, plan_topology
from tests.support.forkrun import python

ROOT = Path(__file__).resolve().parents[2]

INSTANCE = "aws:ec2/instance:Instance"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
CONTAINER = "docker:index/container:Container"


def plan_config(stack: str, config: dict, out: Path) -> tuple[dict, str]:
    """Write `config` as Pulumi.<stack>.yaml beside `out`, plan it into `out`; (plan.json, its text)."""
    stack_file = out.parent / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    result = python([str(ROOT / "scripts" / "plan.py"), "--stack", stack, "--stack-file", str(stack_file),
                     "--out", str(out), "--json"], timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    text = (out / "plan.json").read_text()
    return json.loads(text), text


@dataclass
class Plan:
    """One planned stack: plan.json (`document`, and its `text` as written) and the files under `out`."""
    name: str  # the test's name for this variant
    settings: Settings
    topology: ClusterTopology
    document: dict[str, Any]
    text: str
    out: Path

    @property
    def stack(self) -> str:
        return self.settings.stack

    @property
    def resources(self) -> list[dict[str, Any]]:
        return self.document["resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Resource name → its inputs, for every resource of the type."""
        return {r["name"]: r["inputs"] for r in self.resources if r["type"] == resource_type}

    def by_parent(self) -> Counter:
        """Resources per component type (the stack's own: "(stack)")."""
        return Counter(r["parent"].split("::")[0] or "(stack)" for r in self.resources)

    @cached_property
    def rendered(self) -> RenderedCluster:
        """The render the program placed: its texts and its plan of each server."""
        return render_cluster(self.settings, self.topology)

    # --- AWS ---

    def user_data(self, instance: str) -> str:
        """An instance's cloud-init text (the program gzips it)."""
        return gzip.decompress(base64.b64decode(self.of_type(INSTANCE)[instance]["userDataBase64"])).decode()

    @cached_property
    def group_ids(self) -> dict[str, str]:
        """Security group id (as the mocks make it: "<name>-id") → short group name."""
        return {f"{name}-id": name.removeprefix("cluster-") for name in self.of_type(SECURITY_GROUP)}

    def rules(self, kind: str) -> list[dict[str, Any]]:
        """Security group rules of a type as {group, port, to_port, peer}; peer is a group name or a CIDR."""
        return [{"group": self.group_ids[r["securityGroupId"]], "port": int(r["fromPort"]),
                 "to_port": int(r["toPort"]), "peer": self.group_ids.get(r.get("referencedSecurityGroupId"),
                                                                        r.get("cidrIpv4") or r.get("cidrIpv6"))}
                for r in self.of_type(kind).values()]

    # --- Docker ---

    def container(self, suffix: str) -> dict[str, Any]:
        """The inputs of container neo4j-<stack>-<suffix>."""
        return self.of_type(CONTAINER)[f"neo4j-{self.stack}-{suffix}"]

    def uploads(self, suffix: str) -> dict[str, Any]:
        """Path in the container → content, of container neo4j-<stack>-<suffix>."""
        return {u["file"]: u["content"] for u in self.container(suffix).get("uploads", [])}


# (stack, config) → (plan.json's text, the directory it was planned into): the plan is deterministic
# (test_plan.py asserts it), so the session plans each stack and config once, however many modules ask.
_planned: dict[tuple[str, str], tuple[str, Path]] = {}


def make_plan(name: str, stack: str, config: dict, out: Path) -> Plan:
    """Plan `config` (a stack file's `config:`) as stack `stack` into `out`. The same stack and config
    planned earlier in the session is not planned again: `out` of that run holds the files (read them,
    don't change them), and `document` is a fresh copy each time."""
    key = (stack, json.dumps(config, sort_keys=True, default=str))
    if key not in _planned:
        _, text = plan_config(stack, config, out)
        _planned[key] = (text, out)
    text, out = _planned[key]
    settings = load_settings(stack, config)
    return Plan(name, settings, plan_topology(settings), json.loads(text), text, out)


# The repo's AWS stack files: the plans a module parametrizes over when a rule holds for every AWS stack.
AWS_STACKS = [name for name in ("prod", "dev") if (ROOT / f"Pulumi.{name}.yaml").exists()]


def plan_stack_file(stack: str, tmp_path_factory) -> Plan:
    """Stack `stack` planned from its own stack file in the repo (cached like every plan)."""
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return make_plan(stack, stack, config, tmp_path_factory.mktemp(f"plan-{stack}") / "out")


def commands_target(outputs: dict, tmp_path: Path, monkeypatch):
    """What check and diagnose make of these stack outputs, saved as `pulumi stack output --json` would."""
    from scripts.neo4j_ops.target import build_target

    monkeypatch.setenv("NEO4J_PASSWORD", "secret")
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return build_target(argparse.Namespace(stack=None, uri=None, servers=None, outputs_file=str(path),
                                           password_env="NEO4J_PASSWORD"))
