"""What diagnose asks each server, at once: its facts (as the checks gather them), its transactions
(SHOW TRANSACTIONS on 5.x+, dbms.listQueries/listTransactions on 4.4), heap use (JMX
java.lang:type=Memory), memory settings, and on Enterprise its Prometheus endpoint."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .. import queries as q
from ..bolt import BoltError, Transport
from ..checks.endpoints import metrics_urls
from ..facts import ServerFacts, gather
from ..target import Target


@dataclass
class ServerDiagnosis:
    facts: ServerFacts
    transactions: list[dict[str, Any]] = field(default_factory=list)
    transactions_error: str | None = None
    heap: dict[str, Any] | None = None
    memory_settings: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] | None = None
    metrics_error: str | None = None


def gather_server(target: Target, spec, transport: Transport, timeout: float) -> ServerDiagnosis:
    facts = gather(spec, transport, target.auth, timeout)
    result = ServerDiagnosis(facts)
    if not facts.reachable:
        return result
    client = transport.client(spec.uri, target.auth)
    try:
        if facts.line.transactions_by_procedure:
            queries = client.run(q.LIST_QUERIES.name, q.LIST_QUERIES.cypher, timeout=timeout).records
            txs = client.run(q.LIST_TRANSACTIONS.name, q.LIST_TRANSACTIONS.cypher, timeout=timeout).records
            result.transactions = _merge_44(queries, txs)
        else:
            result.transactions = client.run(q.SHOW_TRANSACTIONS.name, q.SHOW_TRANSACTIONS.cypher,
                                             timeout=timeout).records
    except BoltError as error:
        result.transactions_error = error.message
    try:
        rows = client.run(q.JMX_HEAP.name, q.JMX_HEAP.cypher, timeout=timeout).records
        result.heap = rows[0]["heap"] if rows else None
    except BoltError:
        result.heap = None
    try:
        named = q.memory_settings(facts.line)
        result.memory_settings = {r["name"]: r["value"] for r in client.run(named.name, named.cypher,
                                                                             timeout=timeout).records}
    except BoltError:
        pass
    if facts.enterprise:
        url = metrics_urls(target).get(spec.name)
        if url:
            try:
                status, body = transport.http_get(url, timeout)
                if status == 200:
                    result.metrics = parse_prometheus(body)
                else:
                    result.metrics_error = f"{url}: HTTP {status}"
            except BoltError as error:
                result.metrics_error = error.message
    return result


def _merge_44(queries: list[dict[str, Any]], transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """4.4 rows → the 5.x SHOW TRANSACTIONS shape this module reads (elapsed times in seconds)."""
    out = []
    by_tx = {row.get("transactionId"): row for row in queries}
    for tx in transactions:
        query = by_tx.get(tx.get("transactionId"), {})
        out.append({"database": tx.get("database") or query.get("database"), "transactionId": tx.get("transactionId"),
                    "currentQueryId": query.get("queryId"), "username": tx.get("username"),
                    "currentQuery": tx.get("currentQuery") or query.get("query") or "",
                    "status": tx.get("status"), "elapsedTime": (tx.get("elapsedTimeMillis") or 0) / 1000,
                    "activeLockCount": tx.get("activeLockCount"), "dialect": "4.4"})
    return out


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEaNInf]+)")


def parse_prometheus(text: str) -> dict[str, float]:
    """Prometheus text format → {series name: value} (labels dropped; the last sample wins)."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match:
            try:
                values[match.group(1)] = float(match.group(3))
            except ValueError:
                continue
    return values


def metric(metrics: dict[str, float], *names: str) -> float | None:
    for name in names:
        if name in metrics:
            return metrics[name]
    return None
