"""What the machine boots: the user data the Pulumi program renders for one server (scripts/plan.py runs the
program under its recording mocks, as `make plan` does, and the instance's userDataBase64 is decoded as EC2
decodes it), and the NoCloud seed that hands exactly that text to cloud-init.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.plans import ROOT, make_plan

# A community single-server AWS stack: dev's stack file with one Community server and no monitoring node (the
# HAProxy pair stays: the next slice boots a node of it in front of the server).
COMMUNITY_SINGLE = ("dev", {"neo4j:edition": "community", "neo4j:acceptLicense": False, "neo4j:coreCount": 1,
                            "neo4j:replicaCount": 0, "neo4j:monitoring": False,
                            # Community takes no differential backups: dev's schedule is refused there.
                            "neo4j:backupDiffSchedule": None})


@dataclass(frozen=True)
class RenderedMachine:
    stack: str
    instance: str    # the instance's resource name in the plan
    user_data: str   # its cloud-init text, exactly as the program rendered it
    tags: dict[str, str]  # its instance tags (what IMDS serves under meta-data/tags/instance)
    region: str
    availability_zone: str


def _stack_config(base: str, overrides: dict[str, Any]) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / f"Pulumi.{base}.yaml").read_text())["config"]
    return {key: value for key, value in {**config, **overrides}.items() if value is not None}


def rendered_server(variant: tuple[str, dict[str, Any]] = COMMUNITY_SINGLE, out: Path | None = None,
                    server: str = "core-1") -> RenderedMachine:
    """The planned stack's instance of `server`: its user data and tags as the program gave them."""
    base, overrides = variant
    if out is None:  # the plan's files are read here and not needed afterwards
        with tempfile.TemporaryDirectory(prefix="rehearsal-plan-") as tmp:
            return rendered_server(variant, Path(tmp) / "out", server)
    plan = make_plan("rehearsal", base, _stack_config(base, overrides), out)
    instances = plan.of_type("aws:ec2/instance:Instance")
    names = [name for name in instances if name == server or name.endswith(f"-{server}")]
    if len(names) != 1:
        raise RuntimeError(f"rehearsal: the plan has no single instance named {server}: {sorted(instances)}")
    inputs = instances[names[0]]
    return RenderedMachine(plan.stack, names[0], plan.user_data(names[0]), dict(inputs.get("tags") or {}),
                           plan.settings.region, inputs.get("availabilityZone", f"{plan.settings.region}a"))


def nocloud_seed(machine: RenderedMachine, instance_id: str, directory: Path) -> Path:
    """A NoCloud seed directory (user-data, meta-data) for /var/lib/cloud/seed/nocloud: user-data is the
    rendered text byte for byte."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "user-data").write_text(machine.user_data)
    (directory / "meta-data").write_text(yaml.safe_dump({"instance-id": instance_id,
                                                         "local-hostname": machine.instance}))
    return directory
