#!/usr/bin/env python3
"""Offline plan of a stack: what `pulumi up` would build, without cloud, Pulumi CLI or Docker.

Runs __main__.py under recording Pulumi mocks, writes build/<stack>/plan.json and every rendered
file under build/<stack>/, and prints a summary. Reviewers diff the build directory in pull requests.

With an earlier plan in the output directory (or --since PLAN_JSON, e.g. main's), the summary lists per
Neo4j server what is pending on it: the inputs `pulumi up` holds back on running servers (image, user data,
instance type, subnet), which are applied one server at a time by replacing that server.

Example:
  python scripts/plan.py --stack prod
  python scripts/plan.py --stack prod --since main-plan/plan.json
  python scripts/plan.py --stack dev --json | jq '.resources | length'

Exit status: 0 planned, 2 the stack file is missing or unreadable, or its config invalid (one line per problem).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402

from components.render import RenderedCluster, flatten  # noqa: E402
from components.settings import KEYS, NAMESPACE, ConfigError, Settings, load_settings  # noqa: E402
from components.stack_file import StackFileError, read_stack_config  # noqa: E402
from components.topology import ClusterTopology, plan_topology  # noqa: E402
from components.units import neo4j_size  # noqa: E402

PROJECT = "neo4j-cluster"
# Stands in for every secret under the plan's mocks only: stack files hold secrets encrypted (or not
# at all) and no Pulumi CLI is here to decrypt them. Tests assert it never reaches user data.
PLACEHOLDER_SECRET = "PLAN-PLACEHOLDER-SECRET-not-a-real-value"
SECRET_KEYS = [f"{NAMESPACE}:{key.name}" for key in KEYS if key.secret]


def read_stack_file(path: Path, display: str | None = None) -> dict:
    """The stack file's `config:` mapping; StackFileError (one line naming the file) when it is unreadable."""
    return read_stack_config(path, display)


# Resources the summary names one by one, so a reviewer sees the machines, not just counts.
NAMED_KINDS = {
    "networks": {"aws:ec2/vpc:Vpc", "docker:index/network:Network"},
    "instances": {"aws:ec2/instance:Instance"},
    "containers": {"docker:index/container:Container"},
    "volumes": {"docker:index/volume:Volume"},
    "buckets": {"aws:s3/bucket:Bucket"},
}


def engine_view(config: dict) -> tuple[dict[str, str], list[str]]:
    """The config as the Pulumi engine hands it to the program: text values, secrets decrypted."""
    values: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            continue  # encrypted: replaced by the placeholder below
        values[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    for key in SECRET_KEYS:
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


def secrets_note(settings: Settings, stack_file: Path) -> str:
    """Which secrets the program will require, and which the stack file does not hold yet (the plan itself
    runs with placeholders, so a missing one would otherwise surface only at the first `pulumi preview`)."""
    from components.passwords import missing_secrets, required_secrets

    missing = missing_secrets(settings)
    lines = [f"Secrets the program reads: {', '.join(required_secrets(settings))}"]
    if not missing:
        lines.append(f"  all set (encrypted) in {stack_file.name}")
    for key, why in missing.items():
        lines.append(f"  MISSING {key}: {why}; set it before the first preview: "
                     f"pulumi config set --secret {key} … --stack {settings.stack}")
    return "\n".join(lines)


def _earlier_plan(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


INSTANCE = "aws:ec2/instance:Instance"
CONTAINER = "docker:index/container:Container"
# Per platform: the resource that is a running Neo4j server, and the component it sits under.
SERVER_RESOURCES = {"aws": (INSTANCE, "neo4j-cluster:aws:Neo4jServers::"),
                    "docker": (CONTAINER, "neo4j-cluster:docker:Neo4jServers::")}
HOW_APPLIED = {"aws": "by replacing that server", "docker": "by replacing that server's container"}


def held_back_inputs(platform: str = "aws") -> tuple[str, ...]:
    """Wire names of what `pulumi up` leaves alone on a running Neo4j server (components/aws/machine.py,
    components/docker/servers.py)."""
    if platform == "docker":
        from components.docker import servers

        held = servers.HELD_BACK_ON_SERVER_CONTAINERS
    else:
        from components.aws import machine

        held = machine.HELD_BACK_ON_SERVERS
    return tuple(re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name) for name in held)


def _user_data_files(user_data_base64: str) -> dict[str, str]:
    import base64
    import gzip

    import yaml

    cloud_config = yaml.safe_load(gzip.decompress(base64.b64decode(user_data_base64)))
    return {f["path"]: f.get("content", "") for f in cloud_config.get("write_files", [])}


def _describe(key: str, old, new) -> str:
    if key == "userDataBase64":
        before, after = _user_data_files(old), _user_data_files(new)
        changed = sorted(Path(p).name for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        return f"user data ({', '.join(changed) or 'cloud-init'})"
    if key == "uploads":  # a container's files: name the ones that differ, never their (maybe secret) content
        before, after = ({u.get("file"): u for u in files or []} for files in (old, new))
        changed = sorted(Path(p).name for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        return f"uploads ({', '.join(changed)})"
    if key == "envs":
        return "envs"
    return f"{key} {old} -> {new}"


def pending_on_servers(previous: dict, document: dict, platform: str = "aws") -> dict[str, list[str]]:
    """Server instance (or container) name → the held-back inputs that differ from the earlier plan, described."""
    kind, parent = SERVER_RESOURCES[platform]

    def servers(plan_document: dict) -> dict[str, dict]:
        return {r["name"]: r["inputs"] for r in plan_document.get("resources", [])
                if r["type"] == kind and r["parent"].startswith(parent)}

    before, after = servers(previous), servers(document)
    pending: dict[str, list[str]] = {}
    for name in sorted(before.keys() & after.keys()):
        changes = [_describe(key, before[name].get(key), after[name].get(key)) for key in held_back_inputs(platform)
                   if before[name].get(key) != after[name].get(key)]
        if changes:
            pending[name] = changes
    return pending


def pending_note(previous: dict | None, document: dict, source: Path, platform: str = "aws") -> str:
    lines = ["Pending on running servers:",
             f"  held back by `pulumi up` on running Neo4j servers (no restart, no replacement): "
             f"{', '.join(held_back_inputs(platform))};",
             f"  applied one server at a time {HOW_APPLIED[platform]} (README, \"Changing servers\")."]
    if previous is None:
        lines.append(f"  (no earlier plan at {source} to compare with)")
        return "\n".join(lines)
    pending = pending_on_servers(previous, document, platform)
    if not pending:
        lines.append(f"  none since {source}")
    for name, changes in pending.items():
        lines.append(f"  {name:<22}{'; '.join(changes)}")
    return "\n".join(lines)


def _sorted(value):
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def summary(settings: Settings, topology: ClusterTopology, rendered: RenderedCluster, document: dict,
            out_dir: Path) -> str:
    lines = [
        f"Stack {settings.stack}: Neo4j {settings.version} {settings.edition} on {settings.platform}"
        + (f" ({settings.region})" if settings.platform == "aws" else ""),
        f"Servers: {len(topology.primaries)} primaries + {len(topology.secondaries)} secondaries; "
        f"fault tolerance {topology.fault_tolerance} (writes continue with {topology.fault_tolerance} "
        f"primar{'y' if topology.fault_tolerance == 1 else 'ies'} down)",
        "",
        f"  {'server':<12}{'role':<11}{'zone':<13}{'address'}",
    ]
    for server in topology.servers:
        lines.append(f"  {server.name:<12}{server.role:<11}{server.zone:<13}{server.hostname}")
    lines += ["", "Memory plan per role:"]
    seen = set()
    for server in topology.servers:
        if server.role in seen:
            continue
        seen.add(server.role)
        memory = rendered.servers[server.name].memory
        machine = (settings.core_instance_type if server.role == "primary" else settings.replica_instance_type) \
            if settings.platform == "aws" else "container"
        lines.append(f"  {server.role:<11}{machine} {neo4j_size(memory.ram)}: heap {neo4j_size(memory.heap)}, "
                     f"page cache {neo4j_size(memory.page_cache)}, OS {neo4j_size(memory.os_reserve)} "
                     f"({memory.source})")
    lines += ["", "Resources per component:"]
    by_parent = Counter(r["parent"] or "(stack)" for r in document["resources"])
    if not by_parent:
        lines.append("  none")
    for parent, count in sorted(by_parent.items()):
        lines.append(f"  {parent:<60}{count:>4}")
    for label, types in NAMED_KINDS.items():
        names = [r["name"] for r in document["resources"] if r["type"] in types]
        if names:
            lines.append(f"  {label} ({len(names)}): {', '.join(names)}")
    if settings.platform == "aws":
        from components.aws.backup_store import backup_copies

        copies = backup_copies(settings)
        lines += ["", "Backup copies (3-2-1: three copies, two kinds of storage, one off-site):",
                  f"  {copies.line()}"]
        if copies.problems:
            lines.append(f"  WARNING: stack {settings.stack} breaks the 3-2-1 rule of the operations guide")
    kinds = Counter(path.split("/")[-1] for path in document["artifacts"])
    lines += ["", f"Artifacts ({len(document['artifacts'])} files) in {out_dir}/:"]
    lines += [f"  {name:<28}x{count}" for name, count in sorted(kinds.items())]
    return "\n".join(lines)


STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _replaceable(out_dir: Path) -> bool:
    """A plan replaces its output directory: only a new, empty or earlier plan's directory may be given."""
    if not out_dir.exists():
        return True
    return out_dir.is_dir() and (not any(out_dir.iterdir()) or (out_dir / "plan.json").is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="plan", description=__doc__.split("\n\n")[0],
        epilog="example: python scripts/plan.py --stack prod", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev", help="stack name; reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--stack-file", type=Path, help="stack file to read instead of Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output directory (default: build/<stack>)")
    parser.add_argument("--json", action="store_true", help="print plan.json instead of the summary")
    parser.add_argument("--since", type=Path, metavar="PLAN_JSON",
                        help="earlier plan.json to list pending server changes against (default: the one in --out)")
    args = parser.parse_args(argv)

    # The name becomes a file name and build/<stack>, which is replaced whole: no path tricks ("..").
    if not STACK_NAME.match(args.stack) or args.stack in (".", ".."):
        print(f"plan: --stack: got {args.stack!r}; allowed: a stack name of letters, digits, '-', '_' and '.'",
              file=sys.stderr)
        return 2
    stack_file = args.stack_file or ROOT / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
        print(f"plan: no stack file {stack_file}; stacks here: {', '.join(stacks)}", file=sys.stderr)
        return 2
    out_dir = args.out or ROOT / "build" / args.stack
    if args.out and not _replaceable(out_dir):
        print(f"plan: --out {out_dir}: got a {'file' if not out_dir.is_dir() else 'directory without plan.json'}; "
              f"allowed: a new or empty directory, or an earlier plan's (it is replaced whole)", file=sys.stderr)
        return 2
    try:
        document = plan(args.stack, stack_file, out_dir, str(args.stack_file or stack_file.name), args.since)
    except StackFileError as error:
        print(error, file=sys.stderr)  # one line naming the file and what is wrong
        return 2
    except ConfigError as error:
        for problem in error.problems:  # one line each, naming the key: nothing else
            print(problem, file=sys.stderr)
        return 2
    except pulumi.RunError as error:
        # What only the program can check (an adapter's refusal): its own lines, as `pulumi up` prints them.
        for line in str(error).splitlines():
            if line and line != "invalid stack config:":
                print(line, file=sys.stderr)
        return 2
    text = document.pop("_summary")
    print(json.dumps(document, indent=2) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
