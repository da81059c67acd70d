"""Run __main__.py under the recording mocks with secrets a test chooses, in a process of its own (Pulumi's
mocks are process-global; forked from a warm interpreter, tests/support/forkrun.py), and see what reached each
resource (a secret value as {"secret": <value>}), the resource options the program gave it (protect,
retainOnDelete, ignoreChanges, deleteBeforeReplace, as the engine receives them) and which lookups (invokes)
the program made.

`scripts/plan.py` gives every secret one placeholder and records it as "[secret]"; here a test sets real
values and sees both that a value stayed a Pulumi secret and what it holds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.forkrun import python

ROOT = Path(__file__).resolve().parents[2]

DRIVER = """
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from pulumi.runtime import rpc
import components.program.recording as recording
from scripts.neo4j_ops.plan.document import PROJECT, engine_view

def reveal(value):
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return {{"secret": reveal(value.get("value"))}}
        return {{key: reveal(item) for key, item in value.items()}}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value

recording.redact = reveal  # what the recording monitor keeps: secrets marked, not replaced
registered, calls, options = [], [], {{}}
register = recording.RecordingMonitor.RegisterResource

def register_with_options(self, request):
    if request.type != "pulumi:pulumi:Stack":
        options[f"{{request.type}}::{{request.name}}"] = {{
            "protect": request.protect, "retainOnDelete": request.retainOnDelete,
            "ignoreChanges": list(request.ignoreChanges), "deleteBeforeReplace": request.deleteBeforeReplace,
            "dependencies": sorted(request.dependencies)}}
    return register(self, request)

recording.RecordingMonitor.RegisterResource = register_with_options

class Capture(recording.RecordingMocks):
    def new_resource(self, args):
        registered.append(args.name)
        return super().new_resource(args)

    def call(self, args):
        calls.append({{"token": args.token, "args": args.args}})
        return super().call(args)

spec = json.loads(Path(sys.argv[1]).read_text())
config, secret_keys = engine_view(spec["config"])
config.update(spec["secrets"])
for key in spec["dropped"]:
    config.pop(key)
try:
    run = recording.run_program(Path({root!r}) / "__main__.py", project=PROJECT, stack=spec["stack"],
                                config=config, secret_keys=secret_keys, mocks=Capture())
except Exception as error:
    print(json.dumps({{"error": str(error), "error_type": type(error).__name__, "registered": registered,
                      "calls": calls}}, default=str))
    sys.exit(1)
print(json.dumps({{"resources": [{{"type": r.type, "name": r.name, "inputs": r.inputs}} for r in run.resources],
                  "registered": registered, "calls": calls, "options": options}}, default=str))
"""


@dataclass
class ProgramRun:
    returncode: int
    stdout: str
    stderr: str
    error: str | None = None  # the exception that stopped the program, as str()
    error_type: str | None = None
    registered: list[str] = field(default_factory=list)  # names of the resources the mocks were asked for
    resources: list[dict[str, Any]] = field(default_factory=list)  # {"type", "name", "inputs"}
    calls: list[dict[str, Any]] = field(default_factory=list)  # the lookups it made: {"token", "args"}
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<type>::<name>" → its options

    def inputs(self, name: str) -> dict[str, Any]:
        return next(r["inputs"] for r in self.resources if r["name"] == name)

    def options_of(self, resource_type: str, name: str) -> dict[str, Any]:
        return self.options[f"{resource_type}::{name}"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {r["name"]: r["inputs"] for r in self.resources if r["type"] == resource_type}


def run_with_secrets(tmp_path: Path, stack: str, config: dict[str, Any], secrets: dict[str, str],
                     dropped: tuple[str, ...] = ()) -> ProgramRun:
    """Run the program on `config` (a stack file's `config:`), each key of `secrets` ("neo4j:adminPassword")
    set to its value instead of the plan's placeholder, and the keys in `dropped` not set at all."""
    spec = tmp_path / "program-spec.json"
    spec.write_text(json.dumps({"stack": stack, "config": config, "secrets": secrets, "dropped": list(dropped)},
                               default=str))
    result = python(["-c", DRIVER.format(root=str(ROOT)), str(spec)], timeout=300, cwd=ROOT)
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return ProgramRun(result.returncode, result.stdout, result.stderr, report.get("error"), report.get("error_type"),
                      report.get("registered", []), report.get("resources", []), report.get("calls", []),
                      report.get("options", {}))
