"""The version guard before a rollout touches anything (issue 24, item 1): the release each server runs now (its
`CALL dbms.components()` answer, as check reads it) against the release the stack names (neo4j:version of
Pulumi.<stack>.yaml, the target the rollout's after-gate expects). A change outside the supported paths of
shared/upgrade_paths.py is refused in one line (UsageError: exit 2) before Pulumi is asked anything.

Why here and not in `pulumi preview`: the Pulumi program knows neo4j:version (the target) but not what the servers
run. Their user data names the release they booted with, but a server only runs it after the rollout replaced it,
and the program reads no state of the deployed stack (a StackReference to itself would need the engine, and the
plan's mocks have none). So the refusal is the rollout's and `make upgrade`'s, both of which ask the servers.
"""
from __future__ import annotations

from ..facts import ServerFacts
from ..shared.errors import UsageError
from ..shared.upgrade_paths import UpgradePath, guard, refusal


def running_versions(facts: list[ServerFacts]) -> dict[str, str]:
    """server → the release it reports; servers that do not answer are left out (the health gate names them)."""
    return {f.spec.name: f.version for f in facts if f.reachable and f.version}


def check_version_change(facts: list[ServerFacts], target_version: str | None, *,
                         key: str = "neo4j:version") -> list[UpgradePath]:
    """The path from each release the cluster runs to `target_version`; UsageError naming `key` when one is not
    supported. No target (no stack file): nothing to judge."""
    if not target_version:
        return []
    paths = guard(list(running_versions(facts).values()), target_version)
    refused = refusal(paths, key=key)
    if refused:
        raise UsageError(refused)
    return paths
