"""plan(): a stack file, run under the recording mocks, becomes build/<stack>/plan.json and the rendered files.

The document's shape is stable (../shared/ARCHITECTURE.md, "plan.json shape"): other tools read it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from components.render import flatten
from components.settings import KEYS, NAMESPACE, load_settings
from components.stack_file import read_stack_config
from components.topology import plan_topology

from .pending import pending_note
from .summary import secrets_note, summary

ROOT = Path(__file__).resolve().parents[3]  # the repository: __main__.py and the Pulumi.<stack>.yaml files
PROJECT = "neo4j-cluster"
# Stands in for every secret under the plan's mocks only: stack files hold secrets encrypted (or not
# at all) and no Pulumi CLI is here to decrypt them. Tests assert it never reaches user data.
PLACEHOLDER_SECRET = "PLAN-PLACEHOLDER-SECRET-not-a-real-value"
SECRET_KEYS = [f"{NAMESPACE}:{key.name}" for key in KEYS if key.secret]
# An optional secret stands in only where the stack file sets it: its absence is a choice (no GDS licence).
OPTIONAL_SECRET_KEYS = {f"{NAMESPACE}:{key.name}" for key in KEYS if key.secret and key.optional}


def read_stack_file(path: Path, display: str | None = None) -> dict:
    """The stack file's `config:` mapping; StackFileError (one line naming the file) when it is unreadable."""
    return read_stack_config(path, display)


def engine_view(config: dict) -> tuple[dict[str, str], list[str]]:
    """The config as the Pulumi engine hands it to the program: text values, secrets decrypted."""
    values: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            continue  # encrypted: replaced by the placeholder below
        values[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    for key in SECRET_KEYS:
        if key in OPTIONAL_SECRET_KEYS and key not in config:
            continue
        values[key] = json.dumps({}) if key.endswith("userPasswords") else PLACEHOLDER_SECRET
    return values, SECRET_KEYS


def plan(stack: str, stack_file: Path, out_dir: Path, display: str | None = None, since: Path | None = None) -> dict:
    config = read_stack_file(stack_file, display)  # raises StackFileError when the file is unreadable
    settings = load_settings(stack, config)  # raises ConfigError before any Pulumi code runs
    from components.program.recording import run_program  # pulumi is imported only when there is a plan to make

    engine_config, secret_keys = engine_view(config)
    run = run_program(ROOT / "__main__.py", project=PROJECT, stack=stack, config=engine_config,
                      secret_keys=secret_keys)
    files = flatten(run.namespace["artifacts"])
    previous = _earlier_plan(since or out_dir / "plan.json")
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a plan is the whole picture: no stale files from an older one
    for relative, text in files.items():
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        if relative.endswith(".sh"):
            target.chmod(0o755)
    files.update(offsite_account_files(run.outputs))
    for relative in OFFSITE_FILES.values():
        if relative in files:
            target = out_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[relative])
    document = {
        "stack": stack,
        "project": PROJECT,
        # Resources register concurrently: sort them (and their inputs) so plans diff cleanly.
        "resources": sorted(({"type": r.type, "name": r.name, "parent": r.parent, "inputs": _sorted(r.inputs)}
                             for r in run.resources), key=lambda r: (r["parent"], r["type"], r["name"])),
        "outputs": run.outputs,
        "artifacts": sorted(files),
    }
    (out_dir / "plan.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    document["_summary"] = summary(settings, plan_topology(settings), run.namespace["rendered"], document, out_dir)
    document["_summary"] += "\n\n" + pending_note(previous, document, since or out_dir / "plan.json",
                                                    settings.platform)
    document["_summary"] += "\n\n" + secrets_note(settings, stack_file)
    return document


# The other account's documents (neo4j:backupReplicaAccountId), from the stack output of the same name: the
# operator applies them there (README, "Off-site copy in another account").
OFFSITE_FILES = {"bucketPolicy": "offsite-account/bucket-policy.json", "keyPolicy": "offsite-account/key-policy.json",
                 "bucketSettings": "offsite-account/bucket-settings.json"}


def offsite_account_files(outputs: dict) -> dict[str, str]:
    documents = outputs.get("offsiteAccountPolicies") or {}
    return {relative: json.dumps(documents[key], indent=2) + "\n"
            for key, relative in OFFSITE_FILES.items() if key in documents}


def _earlier_plan(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _sorted(value):
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
