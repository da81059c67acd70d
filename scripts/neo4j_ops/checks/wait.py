"""check --wait: wait until every server answers and the cluster has formed, then run the checks.

`pulumi up` returns when the instances run, minutes before cloud-init has installed Neo4j. With
--wait the command asks every server who it is (the same facts as phase 1 of a check) round after
round, printing one progress line per server when its state changes (and one for the cluster),
until every server answers and the cluster has formed: every expected server a member (SHOW
SERVERS / dbms.cluster.overview() on Enterprise), every database online, one writer each; and, with
HAProxy, until its write frontend forwards a statement (its health checks mark a server up seconds
after the server answers: a check run at once had failed its HAProxy probe). Then the full check
runs once. When the time is up it says what is still missing and exits 1.

Rounds are bounded: the pause between them grows from 2 s to 15 s, and no round starts after
the deadline. Ctrl-C ends the wait like any command (exit 130). A server whose boot script failed
(checks/boot.py) ends the wait at once: waiting does not heal it.
"""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import queries as q
from ..bolt import AUTH, UNREACHABLE, BoltError, Transport
from ..facts import ServerFacts, gather
from ..parallel import run_all
from ..shared.errors import UsageError
from ..target import Target
from .boot import boot_failed_message, boot_failures
from .membership import databases_result, topology_result, writers_result
from .results import FAIL, reason

FIRST_PAUSE, MAX_PAUSE = 2.0, 15.0
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """'20m', '90s', '1h30m', '300' (seconds) → seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smh])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UsageError(f"--wait {text!r}: not a duration; use e.g. 20m, 90s, 1h30m or seconds")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def server_state(facts: ServerFacts) -> str:
    """One server, in a few words: what stops it, or that it answers."""
    if facts.error is not None:
        error = facts.error
        if error.kind == AUTH:
            return f"answers but refuses the login: {error.message}"
        if error.kind == UNREACHABLE:
            return f"not answering: {error.message}"
        return f"not ready: {error.message}"
    text = f"up: Neo4j {facts.version} {facts.edition}"
    if facts.enterprise:
        if facts.cluster_view_error is not None:
            text += f", no cluster view yet ({facts.cluster_view_error.message})"
        else:
            text += f", lists {facts.members} server{'s' if facts.members != 1 else ''}"
    return text


def cluster_state(target: Target, facts: list[ServerFacts]) -> tuple[bool, str]:
    """(formed, why not / how): every server answers, the membership is complete, a writer each."""
    down = [f.spec.name for f in facts if not f.reachable]
    if down:
        return False, f"waiting for {', '.join(down)} to answer"
    problems = [r.detail for r in (topology_result(target, facts), databases_result(target, facts),
                                   writers_result(target, facts)) if r.status == FAIL]
    if problems:
        return False, "not formed yet: " + "; ".join(problems)
    return True, f"formed: all {len(facts)} server{'s' if len(facts) != 1 else ''} answer, databases online, " \
                 f"one writer each"


def entry_state(target: Target, transport: Transport, timeout: float) -> str | None:
    """None when HAProxy's write frontend forwards a statement to a server (or there is no HAProxy); else why not.
    A read of a probe id nobody wrote: nothing changes."""
    if not target.haproxy_uri:
        return None
    try:
        transport.client(target.haproxy_uri, target.auth).run(
            q.PROBE_READ.name, q.PROBE_READ.cypher, {"id": f"wait-{uuid.uuid4()}"}, database=target.database,
            timeout=timeout)
    except BoltError as error:
        return f"not forwarding yet: {error.message}"
    return None


@dataclass
class WaitOutcome:
    ready: bool
    seconds: float
    rounds: int
    missing: list[str] = field(default_factory=list)  # what was still missing when the time was up


def wait_until_ready(target: Target, transport: Transport, *, within: float, timeout: float,
                     log: Callable[[str], None], sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> WaitOutcome:
    start = clock()
    deadline = start + within
    states: dict[str, str] = {}
    cluster_line = ""
    pause = FIRST_PAUSE
    rounds = 0
    while True:
        rounds += 1
        tasks = {s.name: (lambda s=s: gather(s, transport, target.auth, timeout)) for s in target.servers}
        outcomes = run_all(tasks, 4 * timeout + 1)
        facts = []
        for spec in target.servers:
            outcome = outcomes[spec.name]
            facts.append(outcome.value if outcome.ok else
                         ServerFacts(spec, error=BoltError(UNREACHABLE, f"{spec.name}: {reason(outcome)}")))
        failed = boot_failures([f.spec for f in facts if not f.reachable], transport, timeout)
        for f in facts:
            state = server_state(f) if f.spec.name not in failed else \
                boot_failed_message(f.spec.name, failed[f.spec.name]).split(": ", 1)[1]
            if states.get(f.spec.name) != state:
                states[f.spec.name] = state
                log(f"{f.spec.name}: {state}")
        formed, detail = cluster_state(target, facts)
        if detail != cluster_line:
            cluster_line = detail
            log(f"cluster: {detail}")
        entry = entry_state(target, transport, timeout) if formed else None
        if entry is not None and states.get("haproxy") != entry:
            states["haproxy"] = entry
            log(f"haproxy: {entry}")
        elif formed and entry is None and "haproxy" in states:
            states.pop("haproxy")
            log("haproxy: forwards")
        if formed and entry is None:
            return WaitOutcome(True, clock() - start, rounds)
        if failed:  # a failed boot does not heal by waiting
            return WaitOutcome(False, clock() - start, rounds,
                               [boot_failed_message(name, step) for name, step in failed.items()])
        now = clock()
        if now >= deadline:
            missing = [f"{f.spec.name} ({states[f.spec.name]})" for f in facts if not f.reachable]
            missing.append(f"cluster {detail}")
            if entry is not None:
                missing.append(f"haproxy ({entry})")
            return WaitOutcome(False, now - start, rounds, missing)
        sleep(min(pause, deadline - now))
        pause = min(MAX_PAUSE, pause * 1.5)
