"""Replication lag: how long each copy of each database takes to reach its writer's last transaction.

For each database, the writer's lastCommittedTxn is the mark; a copy already at or past it has no
lag; otherwise its own SHOW DATABASE row is polled until it reaches the mark, and the time that took
is its lag in seconds (at most --max-lag, then it fails). Used by check and by diagnose."""
from __future__ import annotations

import time
from dataclasses import dataclass

from .. import cluster
from .. import queries as q
from ..bolt import Auth, BoltError, Transport
from ..facts import ServerFacts, ServerSpec
from ..parallel import Outcome, run_all
from ..target import Target
from .results import FAIL, PASS, SKIP, CheckResult, reason

LAG_POLL_SECONDS = 0.2


@dataclass
class Lag:
    server: str
    database: str
    behind: int | None  # transactions behind the writer when first seen
    seconds: float | None  # time it took to reach the writer's transaction of that moment
    caught_up: bool
    note: str = ""


def measure_lag(target: Target, facts: list[ServerFacts], transport: Transport, max_lag: float,
                timeout: float) -> list[Lag] | str:
    """Lag of every non-writer copy of every database, or the reason it cannot be measured.

    For each database, the writer's lastCommittedTxn is the mark; a copy already at or past it
    has no lag; otherwise its own SHOW DATABASE row is polled until it reaches the mark, and the
    time that took is its lag in seconds (at most `max_lag`, then it fails). 4.4 and 5.x alike:
    both list every copy's lastCommittedTxn (4.4 marks the writer with role 'leader').
    """
    ref = cluster.reference(facts)
    if ref is None:
        return "no server reachable"
    if not ref.enterprise:
        return "a standalone community server has no secondaries"
    lag_query = q.show_database_lag(ref.line)
    claims = cluster.writer_claims(facts)
    results: list[Lag] = []
    tasks = {}
    unmeasured = []
    for database in cluster.database_names(facts):
        writer_address = cluster.expected_writer(claims.get(database, {}))
        writer_spec = target.server_at(writer_address)
        if writer_spec is None:
            continue  # no single known writer: the writers check reports it
        writer_row = cluster.row_about(facts, writer_spec, database)
        mark = (writer_row or {}).get("lastCommittedTxn")
        if mark is None:
            unmeasured.append(database)
            continue
        for spec in target.servers:
            if spec == writer_spec:
                continue
            row = cluster.row_about(facts, spec, database)
            if row is None:
                continue
            own = next(f for f in facts if f.spec == spec)
            if not own.reachable:
                results.append(Lag(spec.name, database, None, None, False, "unreachable"))
                continue
            txn = row.get("lastCommittedTxn")
            if txn is not None and txn >= mark:
                results.append(Lag(spec.name, database, 0, 0.0, True))
                continue
            tasks[f"{spec.name}/{database}"] = _lag_poller(transport, target.auth, spec, database, mark, txn,
                                                           row.get("replicationLag"), max_lag, timeout, lag_query)
    for key, outcome in run_all(tasks, max_lag + 2 * timeout + 1).items():
        server, database = key.split("/", 1)
        if outcome.ok:
            results.append(outcome.value)
        else:
            note = outcome.error.message if isinstance(outcome.error, BoltError) else str(outcome.error)
            results.append(Lag(server, database, None, None, False, note))
    if unmeasured and not results:
        return f"SHOW DATABASES gives no lastCommittedTxn for the writer of {', '.join(unmeasured)}"
    return sorted(results, key=lambda lag: (lag.database, lag.server))


def _lag_poller(transport: Transport, auth: Auth, spec: ServerSpec, database: str, mark: int, first_txn: int | None,
                replication_lag: int | None, max_lag: float, timeout: float, query: q.Named):
    def poll() -> Lag:
        behind = mark - first_txn if first_txn is not None else abs(replication_lag or 0) or None
        client = transport.client(spec.uri, auth)
        start = time.monotonic()
        txn = first_txn
        while True:
            rows = client.run(query.name, query.cypher, {"database": database}, database=query.database,
                              timeout=timeout).records
            own = next((r for r in rows if r.get("address") in spec.aliases), None)
            txn = (own or {}).get("lastCommittedTxn", txn)
            elapsed = time.monotonic() - start
            if txn is not None and txn >= mark:
                return Lag(spec.name, database, behind, elapsed, True)
            if elapsed >= max_lag:
                now_behind = mark - txn if txn is not None else behind
                return Lag(spec.name, database, now_behind, elapsed, False)
            time.sleep(LAG_POLL_SECONDS)

    return poll


def lag_result(outcome: Outcome, max_lag: float) -> CheckResult:
    if not outcome.ok:
        return CheckResult("replication-lag", FAIL, reason(outcome))
    if isinstance(outcome.value, str):
        return CheckResult("replication-lag", SKIP, outcome.value)
    lags: list[Lag] = outcome.value
    if not lags:
        return CheckResult("replication-lag", PASS, "no copies to compare (every database has only its writer)")
    bad = [lag for lag in lags if not lag.caught_up]
    if bad:
        parts = []
        for lag in bad:
            if lag.note:
                parts.append(f"{lag.server} on {lag.database}: {lag.note}")
            else:
                parts.append(f"{lag.server} on {lag.database} is {lag.behind} transactions behind the writer and did "
                             f"not catch up within {max_lag:g} s")
        return CheckResult("replication-lag", FAIL, "; ".join(parts))
    worst = max(lags, key=lambda lag: lag.seconds or 0.0)
    if not worst.seconds:
        return CheckResult("replication-lag", PASS, f"all {len(lags)} copies are at their writer's last "
                                                    f"committed transaction")
    return CheckResult("replication-lag", PASS, f"{len(lags)} copies within {max_lag:g} s of their writer "
                                                f"(worst: {worst.server} on {worst.database}: {worst.behind} "
                                                f"transactions, caught up in {worst.seconds:.1f} s)")
