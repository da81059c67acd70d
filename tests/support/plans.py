"""Run `scripts/plan.py` on a config as a user would: a subprocess (Pulumi's mocks are process-global)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def plan_config(stack: str, config: dict, out: Path) -> tuple[dict, str]:
    """Write `config` as Pulumi.<stack>.yaml beside `out`, plan it into `out`; (plan.json, its text)."""
    stack_file = out.parent / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "plan.py"), "--stack", stack, "--stack-file", str(stack_file),
         "--out", str(out), "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    text = (out / "plan.json").read_text()
    return json.loads(text), text


def commands_target(outputs: dict, tmp_path: Path, monkeypatch):
    """What check and diagnose make of these stack outputs, saved as `pulumi stack output --json` would."""
    import argparse

    from scripts.neo4j_ops.target import build_target

    monkeypatch.setenv("NEO4J_PASSWORD", "secret")
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return build_target(argparse.Namespace(stack=None, uri=None, servers=None, outputs_file=str(path),
                                           password_env="NEO4J_PASSWORD"))
