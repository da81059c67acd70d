"""The rollout's steps of the AWS entry point: the HAProxy pair (haproxy-1, haproxy-2) behind the NLB
(components/aws/load_balancer.py), one node at a time, after the Neo4j servers.

Why after the servers, not first: while a Neo4j server's step runs, both HAProxy nodes route around it, so the
clients' path keeps its redundancy through every server step; and a node's gate is its NLB health check, HAProxy's
own /health/write and /health/read (templates/haproxy/haproxy.cfg.j2), which only says something once the Neo4j
cluster is settled (during a leader's step there may be no writer for a moment, and the NLB would report both
nodes unhealthy for a reason that is not theirs). Last, each new node is proven against the servers it will
serve from now on.

The pair never has both nodes out: before a node's step the *other* node must be `healthy` in every target
group of the NLB (else the step does not start), and after it the replaced node's targets must be `healthy`
again within the time limit before the next node goes. "If a target becomes unhealthy, the load balancer sends
a TCP RST for packets received on the client connections associated with the target" and "each load balancer
node routes requests to the healthy targets in all enabled Availability Zones" (Elastic Load Balancing, Network
Load Balancers, "Health checks for Network Load Balancer target groups"): with one node healthy the NLB keeps
serving. A target's state is one of initial (Elb.RegistrationInProgress, Elb.InitialHealthChecking), healthy,
unhealthy, unused (Target.NotRegistered, ...), draining, unavailable (Elastic Load Balancing API Reference,
TargetHealth): only `healthy` passes.

The boundaries (small Protocols, so the tests use fakes):
    TargetHealth.describe_target_health(arn)   boto3 elbv2 describe_target_health → TargetHealthDescriptions
    the stack's entry_targets(node)            (listener, target group ARN, instance id, port) of the node's
                                               NLB targets, read from the stack's state (the attachments)
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..shared.errors import OperationError, describe

# components/topology.py HAPROXY_PAIR on AWS; the names are checked against the plan (test_rollout_run.py).
PAIR = ("haproxy-1", "haproxy-2")
# components/aws/load_balancer.py LISTENERS: a target group (and an attachment per node) each.
LISTENER_NAMES = ("write", "read")
HEALTHY = "healthy"
FIRST_PAUSE, MAX_PAUSE = 2.0, 10.0  # the NLB checks every 10 s (HEALTH_INTERVAL): polling faster tells nothing


@dataclass(frozen=True)
class EntryTarget:
    listener: str  # write | read
    target_group_arn: str
    instance_id: str
    port: int


class TargetHealth(Protocol):
    def describe_target_health(self, target_group_arn: str) -> list[dict]: ...


class EntryStack(Protocol):
    def entry_targets(self, node: str) -> list[EntryTarget]: ...


class Elbv2TargetHealth:
    """TargetHealth on boto3 (the operator's AWS credentials, the stack's region)."""

    def __init__(self, region: str, client: Any = None):
        if client is None:
            import boto3

            client = boto3.client("elbv2", region_name=region)
        self.client = client
        self.region = region

    def describe_target_health(self, target_group_arn: str) -> list[dict]:
        try:
            answer = self.client.describe_target_health(TargetGroupArn=target_group_arn)
        except Exception as error:  # botocore's ClientError, NoCredentialsError, EndpointConnectionError: one line
            raise OperationError(f"elbv2 describe-target-health {target_group_arn} ({self.region}) failed: "
                                 f"{describe(error)}") from None
        return list(answer.get("TargetHealthDescriptions") or [])


def other(node: str) -> str:
    return next(n for n in PAIR if n != node)


def step_reason(node: str) -> str:
    return (f"HAProxy node, after the Neo4j servers: starts only while {other(node)} is healthy in the NLB; "
            f"done when its own targets are healthy again")


def node_health(health: TargetHealth, targets: list[EntryTarget]) -> tuple[bool, str]:
    """(every target of the node is `healthy`, in words: one `listener: state (reason)` per target group)."""
    if not targets:
        return False, "no NLB target in the stack's state"
    words, healthy = [], True
    for target in sorted(targets, key=lambda t: LISTENER_NAMES.index(t.listener)
                         if t.listener in LISTENER_NAMES else 99):
        rows = health.describe_target_health(target.target_group_arn)
        row = next((r for r in rows if (r.get("Target") or {}).get("Id") == target.instance_id
                    and int((r.get("Target") or {}).get("Port") or target.port) == target.port), None)
        state_info = (row or {}).get("TargetHealth") or {}
        state = str(state_info.get("State") or "not registered")
        why = state_info.get("Reason") or ""
        healthy = healthy and state == HEALTHY
        words.append(f"{target.listener}: {state}" + (f" ({why})" if why else ""))
    return healthy, ", ".join(words)


@dataclass
class EntryGate:
    ok: bool
    seconds: float
    state: str
    history: list[str] = field(default_factory=list)


def wait_for_node(stack: EntryStack, health: TargetHealth, node: str, *, within: float,
                  log: Callable[[str], None], sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> EntryGate:
    """The after-gate of a node: its targets (read again: a replaced node has a new instance id) are `healthy`
    in every target group, within `within` seconds; a progress line whenever the state changes."""
    start = clock()
    deadline = start + within
    history: list[str] = []
    pause = FIRST_PAUSE
    while True:
        try:
            ok, state = node_health(health, stack.entry_targets(node))
        except OperationError as error:  # a throttled or failed call is one round's state, not the end
            ok, state = False, describe(error)
        state = f"NLB targets {state}"
        if not history or history[-1] != state:
            history.append(state)
            log(f"{node}: {state} ({clock() - start:.0f} s)")
        if ok:
            return EntryGate(True, clock() - start, state, history)
        now = clock()
        if now >= deadline:
            return EntryGate(False, now - start, state, history)
        sleep(min(pause, deadline - now))
        pause = min(MAX_PAUSE, pause * 1.5)
