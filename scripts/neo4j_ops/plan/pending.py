"""What is pending on running servers: the inputs `pulumi up` holds back on a running Neo4j server (applied
one server at a time by the rollout), and which of them differ between an earlier plan and this one."""
from __future__ import annotations

import re
from pathlib import Path

INSTANCE = "aws:ec2/instance:Instance"
CONTAINER = "docker:index/container:Container"
# Per platform: the resource that is a running Neo4j server, and the component it sits under.
SERVER_RESOURCES = {"aws": (INSTANCE, "neo4j-cluster:aws:Neo4jServers::"),
                    "docker": (CONTAINER, "neo4j-cluster:docker:Neo4jServers::")}
HOW_APPLIED = {"aws": "by replacing that server", "docker": "by replacing that server's container"}


def held_back_inputs(platform: str = "aws") -> tuple[str, ...]:
    """Wire names of what `pulumi up` leaves alone on a running Neo4j server (components/aws/machine.py,
    components/docker/servers.py; each adapter's package exports its list). Imported when asked, not at the
    top: the adapters import pulumi and their provider, which nothing else here needs."""
    if platform == "docker":
        import components.docker as adapter

        held = adapter.HELD_BACK_ON_SERVER_CONTAINERS
    else:
        import components.aws as adapter

        held = adapter.HELD_BACK_ON_SERVERS
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
