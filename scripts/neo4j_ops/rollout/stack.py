"""The Pulumi boundary of the rollout: a small Protocol, and the Automation API behind it.

    pending(servers)   server → what a rollout step would change on it (empty: nothing held back)
    apply(server)      one step: `up` targeted at that server's resources, with neo4j:rolloutRelease = [server]

How pending servers are found: a Pulumi preview with the release set to every server, targeted at the
servers' resources. With the release, a server's instance has no ignore_changes (components/aws/machine.py
`instance_ignore_changes`), so the preview's step for it is the engine's own diff of everything held back
(image, user data, type, subnet): `replace` or `update` means pending, `same` means nothing to do. That is
more robust than comparing inputs here: it is the same diff the step's `up` will act on, including inputs
that are computed (the newest AMI) or secret, which no offline comparison can see.

Where the release lives: a copy of Pulumi.<stack>.yaml with the key added (in the system's temporary
directory), passed as `config_file` to preview/up. The stack file itself is never written, so an interrupted
rollout (Ctrl-C, a lost laptop) leaves no release behind for the next plain `pulumi up` to act on; a stack
file that sets the key itself is refused, since every plain `up` would then replace those servers at once.
(The key is still the one components/settings.py reads: neo4j:rolloutRelease, a list of server names.)

A server's resources, by platform (the one mapping of platform differences): the names follow the programs'
own naming, components/aws (NAME "cluster", children "cluster-<server>") and components/docker
(`neo4j-<stack>-<server>`); tests/unit/test_rollout_run.py checks them against both programs' plans.
Pulumi's Automation API docs: "untargeted resources keep their old inputs", so the DNS record and the
data-volume attachment must be targeted in the same step as their instance, and are. An HAProxy node of
the AWS pair (haproxy-1, haproxy-2; components/aws/load_balancer.py, LoadBalancer "cluster") is its
instance "cluster-haproxy-N", its target group attachments "cluster-<listener>-haproxy-N" (they name the
instance id, so a new instance needs new ones) and its A record "cluster-haproxy-N" (ENTRY_RESOURCES);
entry_targets(node) reads the attachments' outputs (targetGroupArn, targetId, port) for the NLB gates.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import yaml

from components.settings import NAMESPACE

from ..pulumi_interrupt import interrupt_after_pulumi
from ..shared.errors import OperationError, UsageError
from ..target import PULUMI_INSTALL, project_dir, pulumi_error_text
from .entry import LISTENER_NAMES, PAIR, EntryTarget

RELEASE_KEY = f"{NAMESPACE}:rolloutRelease"
INSTANCE = "aws:ec2/instance:Instance"
ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
RECORD = "aws:route53/record:Record"
CONTAINER = "docker:index/container:Container"
TARGET_ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"

# platform → (resource type, name pattern) of the resources that make one server; the first is the server
# itself (the one whose diff says what is pending).
SERVER_RESOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "aws": ((INSTANCE, "cluster-{server}"), (ATTACHMENT, "cluster-{server}-data-attachment"),
            (RECORD, "cluster-{server}")),
    "docker": ((CONTAINER, "neo4j-{stack}-{server}"),),
}
# An HAProxy node of the AWS pair (components/aws/load_balancer.py): its instance, its NLB target group
# attachments (one per listener: they name the instance id, so a new instance needs new ones) and its A record.
ENTRY_RESOURCES: tuple[tuple[str, str], ...] = (
    (INSTANCE, "cluster-{server}"),
    *((TARGET_ATTACHMENT, f"cluster-{listener}-{{server}}") for listener in LISTENER_NAMES),
    (RECORD, "cluster-{server}"),
)
# The engine's operations that change a server.
CHANGING_OPS = ("update", "replace", "create-replacement", "delete-replaced")


def server_resources(platform: str, stack: str, server: str) -> tuple[tuple[str, str], ...]:
    """(type, name) of every resource a rollout step for `server` targets, the server's own first."""
    try:
        patterns = SERVER_RESOURCES[platform]
    except KeyError:
        raise UsageError(f"neo4j:platform {platform!r}: the rollout knows {', '.join(SERVER_RESOURCES)}") from None
    if platform == "aws" and server in PAIR:
        patterns = ENTRY_RESOURCES
    return tuple((kind, pattern.format(stack=stack, server=server)) for kind, pattern in patterns)


def urn_parts(urn: str) -> tuple[str, str]:
    """(type, name) of a URN urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>."""
    _, _, rest = urn.partition("::")  # drop urn:pulumi:<stack>
    _, _, rest = rest.partition("::")  # drop <project>
    types, _, name = rest.partition("::")
    return types.rsplit("$", 1)[-1], name


def resource_urns(urns: list[str], platform: str, stack: str, server: str) -> list[str]:
    """The URNs (from the stack's state) of `server`'s resources; the ones not in the state are skipped."""
    wanted = server_resources(platform, stack, server)
    return [urn for urn in urns if urn_parts(urn) in wanted]


class RolloutStack(Protocol):
    name: str

    def pending(self, servers: list[str]) -> dict[str, list[str]]: ...

    def apply(self, server: str, log: Callable[[str], None]) -> None: ...


def release_config(stack_file: Path, servers: list[str], out: Path) -> Path:
    """A copy of the stack file whose config has neo4j:rolloutRelease = servers (the original is untouched)."""
    try:
        document = yaml.safe_load(stack_file.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"{stack_file.name}: cannot read the stack file ({error})") from None
    if not isinstance(document, dict):
        raise UsageError(f"{stack_file.name}: not a stack file (a mapping with config:)")
    config = dict(document.get("config") or {})
    config[RELEASE_KEY] = list(servers)
    document["config"] = config
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return out


def standing_release(stack_file: Path) -> list[str]:
    """The servers the stack file itself releases (it never should: the rollout releases in a copy)."""
    try:
        config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return []
    value = config.get(RELEASE_KEY) if isinstance(config, dict) else None
    if isinstance(value, str):
        value = [value] if value else []
    return [str(v) for v in value] if isinstance(value, list) else []


class AutomationStack:
    """RolloutStack on `pulumi.automation` (needs the Pulumi CLI, as every Automation API program does)."""

    def __init__(self, name: str, platform: str, work_dir: Path | None = None, automation: Any = None):
        if automation is None:
            if shutil.which("pulumi") is None:
                raise UsageError(f"--stack {name}: the rollout drives Pulumi through its Automation API, which needs "
                                 f"the pulumi CLI; it is not installed ({PULUMI_INSTALL})")
            from pulumi import automation
        self.auto = automation
        self.name = name
        self.platform = platform
        self.work_dir = Path(work_dir or project_dir())
        self.stack_file = self.work_dir / f"Pulumi.{name}.yaml"
        if not self.stack_file.is_file():
            raise UsageError(f"--stack {name}: no stack file {self.stack_file.name}")
        released = standing_release(self.stack_file)
        if released:
            raise UsageError(f"{self.stack_file.name} sets {RELEASE_KEY} to {', '.join(released)}: every plain "
                             f"`pulumi up` would replace those servers at once. Remove it (pulumi config rm "
                             f"{RELEASE_KEY} --stack {name}); the rollout sets it for one step at a time, in a copy")
        self.stack = self._call("select the stack", lambda: self.auto.select_stack(name, work_dir=str(self.work_dir)))

    def _call(self, what: str, body: Callable[[], Any]) -> Any:
        try:
            return body()
        except Exception as error:  # CommandError and friends: one line, the CLI's own words
            raise OperationError(f"pulumi: {what} of stack {self.name} failed: {pulumi_error_text(error)}") \
                from None

    def state_resources(self) -> list[dict]:
        deployment = self._call("export", self.stack.export_stack)
        resources = (getattr(deployment, "deployment", None) or {}).get("resources") or []
        return [r for r in resources if isinstance(r, dict) and "urn" in r]

    def state_urns(self) -> list[str]:
        return [r["urn"] for r in self.state_resources()]

    def entry_targets(self, node: str) -> list[EntryTarget]:
        """The node's NLB targets, from the attachments in the state (read again each time: after its step
        the node is a new instance with new attachments)."""
        targets = []
        for resource in self.state_resources():
            kind, name = urn_parts(resource["urn"])
            for listener in LISTENER_NAMES:
                if kind == TARGET_ATTACHMENT and name == f"cluster-{listener}-{node}":
                    outputs = resource.get("outputs") or {}
                    try:
                        targets.append(EntryTarget(listener, str(outputs["targetGroupArn"]),
                                                   str(outputs["targetId"]), int(outputs["port"])))
                    except (KeyError, TypeError, ValueError):
                        raise OperationError(f"{node}: the state's {name} has no targetGroupArn/targetId/port "
                                             f"(outputs: {', '.join(sorted(outputs)) or 'none'})") from None
        return targets

    @contextlib.contextmanager
    def _released(self, servers: list[str]) -> Iterator[str]:
        # Outside the project: a copy left by a crash must never look like a stack file there.
        handle, path = tempfile.mkstemp(prefix=f"neo4j-rollout-{self.name}-", suffix=".yaml")
        os.close(handle)
        try:
            yield str(release_config(self.stack_file, servers, Path(path)))
        finally:
            Path(path).unlink(missing_ok=True)

    def pending(self, servers: list[str]) -> dict[str, list[str]]:
        urns = self.state_urns()
        # Each server's own resource (its instance / container), whatever the state's order.
        own = {server: [u for u in urns if urn_parts(u) == server_resources(self.platform, self.name, server)[0]][:1]
               for server in servers}
        by_urn = {urns_[0]: server for server, urns_ in own.items() if urns_}
        changes: dict[str, list[str]] = {server: [] for server in servers}
        if not by_urn:
            return changes

        def on_event(event: Any) -> None:
            pre = getattr(event, "resource_pre_event", None)
            metadata = getattr(pre, "metadata", None)
            if metadata is None or metadata.urn not in by_urn:
                return
            op = str(getattr(metadata.op, "value", metadata.op))
            if op in CHANGING_OPS:
                keys = ", ".join(metadata.diffs or metadata.keys or [])
                text = op + (f" ({keys})" if keys else "")
                if text not in changes[by_urn[metadata.urn]]:
                    changes[by_urn[metadata.urn]].append(text)

        with self._released(servers) as config_file:
            self._call("preview", lambda: self.stack.preview(diff=True, target=list(by_urn), config_file=config_file,
                                                             on_event=on_event))
        return changes

    def apply(self, server: str, log: Callable[[str], None]) -> None:
        urns = resource_urns(self.state_urns(), self.platform, self.name, server)
        if not urns:
            raise OperationError(f"{server}: none of its resources is in stack {self.name}'s state "
                                 f"({', '.join(n for _, n in server_resources(self.platform, self.name, server))})")
        with self._released([server]) as config_file, interrupt_after_pulumi(log, f"up of {server}"):
            self._call(f"up of {server}", lambda: self.stack.up(
                target=urns, target_dependents=True, config_file=config_file,
                on_output=lambda line: log(f"{server}: pulumi: {line.rstrip()}") if line.strip() else None))
