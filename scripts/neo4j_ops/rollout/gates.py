"""The gates around each rollout step, made of the checks of scripts/check.py (checks/), not copies of them.

Before a step, the cluster must be healthy: every server answers over Bolt (checks/membership.py
connect_result), every expected server is a member, Enabled and Available (topology_result: SHOW SERVERS,
or dbms.cluster.overview() on 4.4), every database in its requested state (databases_result), one writer
per database (writers_result), and every copy within --max-lag of its writer (checks/lag.py). The upgrade
guide's rule: "Perform these steps in full on each server, before moving on to the next server. You must
ensure that the cluster returns to a stable state before moving on to the next." (Neo4j Upgrade and
Migration Guide, "In-place rolling upgrade of a cluster", 5.x and 2025).

After a step, the server must be back: it answers, the cluster has formed again (the same three checks as
check --wait, checks/wait.py cluster_state, so the server is Enabled and Available), it hosts again every
database it hosted before the step, in its requested state (and on 5.x+, SHOW SERVERS `hosting` equals
`requestedHosting`: the guide's "check servers are hosting all their assigned databases. The query should
return no results: SHOW SERVERS YIELD name, hosting, requestedHosting, serverId WHERE requestedHosting <>
hosting"), it runs the configured version when the stack names one, and its copies are caught up with
their writers. All within a time limit, with one progress line whenever the server's state changes.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import cluster
from ..bolt import UNREACHABLE, BoltError, Transport
from ..checks.lag import Lag, lag_result, measure_lag
from ..checks.membership import connect_result, databases_result, topology_result, writers_result
from ..checks.results import FAIL, reason
from ..checks.wait import cluster_state, server_state
from ..facts import ServerFacts, gather
from ..parallel import run_all
from ..target import Target

# Between the after-gate's rounds (a gather of every server) once the stepped server answers again: short, since
# what it then waits for (databases starting, the cluster forming, a copy catching up) takes seconds, and a pause
# that had grown to 5 s cost 2.5 s a step on average (bench/rollout.py: +64% over the restarts alone).
FIRST_PAUSE, MAX_PAUSE = 0.25, 2.0
# While the stepped server does not answer, the gate waits on that condition alone: a connection attempt to its
# Bolt port this often (a refused one costs nothing), not a round of every server's facts; a full round follows as
# soon as it answers, and at the latest every MAX_PAUSE (the progress line, the time limit).
PROBE_PAUSE = 0.1
# Once it answers, what the gate waits for (its databases starting, the cluster forming, a copy catching up) ends at
# a moment no probe announces: the rounds stay at most this far apart (not MAX_PAUSE: a round just missed then cost
# up to 2 s a step), a round being one gather of every server (two sessions each) and, when it looks back, the lag.
ANSWERING_MAX_PAUSE = 0.5


@dataclass
class Health:
    healthy: bool
    problems: list[str]
    facts: list[ServerFacts]


@dataclass
class GateOutcome:
    ok: bool
    seconds: float
    state: str  # the server's last state, in words
    history: list[str] = field(default_factory=list)  # every state it went through


def gather_all(target: Target, transport: Transport, timeout: float) -> list[ServerFacts]:
    """Every server's facts at once, as check and check --wait gather them."""
    outcomes = run_all({s.name: (lambda s=s: gather(s, transport, target.auth, timeout)) for s in target.servers},
                       4 * timeout + 1)
    return [outcomes[s.name].value if outcomes[s.name].ok else
            ServerFacts(s, error=BoltError(UNREACHABLE, f"{s.name}: {reason(outcomes[s.name])}"))
            for s in target.servers]


def _lag(target: Target, facts: list[ServerFacts], transport: Transport, max_lag: float, timeout: float) -> Any:
    return run_all({"lag": lambda: measure_lag(target, facts, transport, max_lag, timeout)},
                   max_lag + 3 * timeout + 2)["lag"]


def cluster_health(target: Target, transport: Transport, *, timeout: float, max_lag: float) -> Health:
    """The before-gate: check's membership, databases, writers and lag checks; healthy when none fails."""
    # Mid-rollout the servers not yet done still run the old release: the version is checked on the server
    # of each step, after it (server_back), not on all of them here.
    target = dataclasses.replace(target, expect_version=None)
    facts = gather_all(target, transport, timeout)
    results = [connect_result(target, f) for f in facts]
    results += [topology_result(target, facts), databases_result(target, facts), writers_result(target, facts)]
    if cluster.reference(facts) is not None:
        results.append(lag_result(_lag(target, facts, transport, max_lag, timeout), max_lag))
    problems = [r.detail for r in results if r.status == FAIL]
    return Health(not problems, problems, facts)


def hosted_databases(target: Target, facts: list[ServerFacts], server: str) -> set[str]:
    """The databases `server` hosts in this view (SHOW DATABASES rows about it)."""
    spec = target.server_named(server)
    if spec is None:
        return set()
    return {row["name"] for row in cluster.row_rows(facts, spec) if row.get("type") != "composite"}


def server_back(target: Target, facts: list[ServerFacts], server: str, hosted_before: set[str]) -> str | None:
    """None when `server` is back (answers, cluster formed, hosting what it hosted, the configured version);
    else what it is waiting for, in words. Lag is measured separately (it needs Bolt calls)."""
    spec = target.server_named(server)
    own = next(f for f in facts if f.spec == spec)
    if not own.reachable:
        return server_state(own)
    if target.expect_version and not (own.version == target.expect_version
                                      or (own.version or "").startswith(target.expect_version + ".")):
        return f"runs Neo4j {own.version}, expected {target.expect_version}"
    formed, detail = cluster_state(target, facts)
    if not formed:
        return detail
    online = {row["name"] for row in cluster.row_rows(facts, spec)
              if row.get("currentStatus") in (None, row.get("requestedStatus"))}
    missing = sorted(hosted_before - online)
    if missing:
        return f"not hosting {', '.join(missing)} yet"
    view = next((f for f in facts if f.reachable and f.servers is not None), None)
    row = next((r for r in (view.servers if view else []) if r.get("address") in spec.aliases), None)
    if row is not None and "requestedHosting" in row:
        requested, hosting = set(row.get("requestedHosting") or []), set(row.get("hosting") or [])
        if requested != hosting:
            return f"SHOW SERVERS: hosting {sorted(hosting)}, requested {sorted(requested)}"
    return None


def membership(facts: list[ServerFacts]) -> str:
    """How the server is a member, in the words of its line's cluster view."""
    ref = cluster.reference(facts)
    if ref is None or not ref.enterprise:
        return "standalone (Community: no cluster membership)"
    if ref.line.supports_show_servers:
        return "Enabled and Available in a formed cluster"
    return "listed in dbms.cluster.overview() of a formed cluster"


def wait_for_server(target: Target, transport: Transport, server: str, hosted_before: set[str], *, within: float,
                    timeout: float, max_lag: float, log: Callable[[str], None],
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> GateOutcome:
    """The after-gate: round after round until `server` is back and caught up, or `within` seconds passed."""
    start = clock()
    deadline = start + within
    history: list[str] = []
    pause = FIRST_PAUSE
    while True:
        facts = gather_all(target, transport, timeout)
        state = server_back(target, facts, server, hosted_before)
        if state is None:
            lag = _lag(target, facts, transport, max_lag, timeout)
            mine = [item for item in (lag.value if lag.ok and isinstance(lag.value, list) else [])
                    if isinstance(item, Lag) and item.server == server]
            result = lag_result(lag, max_lag)
            behind = [item for item in mine if not item.caught_up]
            if behind or (result.status == FAIL and not mine):
                state = "not caught up: " + result.detail
            else:
                hosted = ", ".join(sorted(hosted_before)) or "nothing"
                state = f"back: answers, {membership(facts)}, hosting {hosted}, caught up"
                history.append(state)
                log(f"{server}: {state} ({clock() - start:.0f} s)")
                return GateOutcome(True, clock() - start, state, history)
        if not history or history[-1] != state:
            history.append(state)
            log(f"{server}: {state} ({clock() - start:.0f} s)")
        now = clock()
        if now >= deadline:
            return GateOutcome(False, now - start, state, history)
        own = next((f for f in facts if f.spec.name == server), None)
        if own is not None and not own.reachable and \
                wait_until_answers(transport, target, own.spec.uri, until=min(deadline, now + MAX_PAUSE),
                                   sleep=sleep, clock=clock) != ANSWERED_AT_ONCE:
            continue  # it answers now (a round at once), or MAX_PAUSE passed (a round for the progress line)
        # (a server that accepts a connection but failed the round's questions gets the usual pause)
        sleep(min(pause, deadline - now))
        pause = min(ANSWERING_MAX_PAUSE, MAX_PAUSE, pause * 1.5)  # (MAX_PAUSE: tests that shorten it shorten both)


ANSWERED_AT_ONCE, ANSWERED, NOT_YET = "answered at once", "answered", "not yet"


def wait_until_answers(transport: Transport, target: Target, uri: str, *, until: float,
                       sleep: Callable[[float], None], clock: Callable[[], float]) -> str:
    """Wait until `uri` accepts a Bolt connection and the login (ANSWERED, or ANSWERED_AT_ONCE at the first
    attempt), or until `until` (NOT_YET): a connection attempt every PROBE_PAUSE seconds, the wait on the
    condition instead of a fixed pause. The client is the one gather uses (transport.client(uri, auth))."""
    attempts = 0
    while True:
        attempts += 1
        try:
            transport.client(uri, target.auth).verify()
            return ANSWERED_AT_ONCE if attempts == 1 else ANSWERED
        except BoltError:
            pass
        now = clock()
        if now >= until:
            return NOT_YET
        sleep(min(PROBE_PAUSE, until - now))
