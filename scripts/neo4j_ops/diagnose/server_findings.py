"""Findings about one server: slow queries, idle and blocked transactions (with the command that ends
them, per version line), heap use and the page cache."""
from __future__ import annotations

import re

from .gather import ServerDiagnosis, metric
from .report import INFO, WARNING, Finding, Thresholds

QUERY_PREVIEW = 160


def transaction_findings(d: ServerDiagnosis, thresholds: Thresholds) -> list[Finding]:
    name = d.facts.spec.name
    if d.transactions_error:
        return [Finding(INFO, "transactions", f"{name}: cannot list transactions: {d.transactions_error}", server=name)]
    findings = []
    own = [t for t in d.transactions if not str(t.get("currentQuery") or "").lstrip().upper().startswith(
        ("SHOW TRANSACTIONS", "CALL DBMS.LISTQUERIES", "CALL DBMS.LISTTRANSACTIONS"))]
    by_procedure = d.facts.line.transactions_by_procedure
    for tx in sorted(own, key=lambda t: -(t.get("elapsedTime") or 0)):
        elapsed = float(tx.get("elapsedTime") or 0)
        tx_id = tx.get("transactionId")
        query = " ".join(str(tx.get("currentQuery") or "").split())
        status = str(tx.get("status") or "")
        who = f"{tx_id} by {tx.get('username') or '?'} on {tx.get('database') or '?'}"
        stop = (f"CALL dbms.killQuery('{tx.get('currentQueryId')}')" if by_procedure and tx.get("currentQueryId")
                else f"CALL dbms.killTransaction('{tx_id}')" if by_procedure else f"TERMINATE TRANSACTION '{tx_id}'")
        if status.lower().startswith("blocked"):
            blockers = re.findall(r"[\w-]+-transaction-\d+", status)
            end = (" or end the blocker now: " + ", ".join(f"TERMINATE TRANSACTION '{b}'" for b in blockers)
                   if blockers and not by_procedure else " or stop this one: " + stop)
            findings.append(Finding(WARNING, "blocked-transaction", f"{name}: {who} is {status} for "
                                                                    f"{elapsed:.1f} s",
                                    "lock contention: make the transaction holding the locks shorter (SHOW "
                                    "TRANSACTIONS shows its activeLockCount and client)," + end, name))
        elif elapsed > thresholds.slow_query_seconds and query:
            findings.append(Finding(WARNING, "slow-query", f"{name}: {who}, running {elapsed:.1f} s: "
                                                           f"{_preview(query)}",
                                    "PROFILE it to find a missing index or a cartesian product; bound it with "
                                    f"LIMIT or {d.facts.line.transaction_timeout_setting}; to stop it now: " + stop,
                                    name))
        elif elapsed > thresholds.slow_query_seconds:
            locks = tx.get("activeLockCount")
            held = f", holding {locks} locks" if locks else ""
            findings.append(Finding(WARNING, "open-transaction", f"{name}: {who} open for {elapsed:.1f} s without "
                                                                 f"running a query{held}",
                                    "a client keeps a transaction open: close sessions and transactions in the "
                                    "application (or set "
                                    f"{d.facts.line.transaction_timeout_setting}); to end it now: " + stop, name))
    findings.append(Finding(INFO, "transactions", f"{name}: {len(own)} open transaction{'s' if len(own) != 1 else ''}",
                            server=name))
    return findings


def _preview(query: str) -> str:
    return query if len(query) <= QUERY_PREVIEW else query[:QUERY_PREVIEW - 1] + "…"


def memory_findings(d: ServerDiagnosis, thresholds: Thresholds) -> list[Finding]:
    name = d.facts.spec.name
    findings = []
    heap_used = heap_max = None
    if d.heap:
        heap_used, heap_max = d.heap.get("used"), d.heap.get("max")
    elif d.metrics:
        heap_used = metric(d.metrics, "neo4j_dbms_vm_heap_used", "neo4j_vm_heap_used")
    if heap_used is not None and heap_max:
        ratio = heap_used / heap_max
        text = f"{name}: heap {_gib(heap_used)} of {_gib(heap_max)} used ({ratio:.0%})"
        findings.append(_measured(ratio > thresholds.heap_ratio, "heap", text,
                                  "look for memory-hungry queries (estimatedUsedHeapMemory in SHOW TRANSACTIONS) "
                                  "and long GC pauses in gc.log; if it stays high, raise neo4j:heapSize or use a "
                                  "bigger instance type", name))
    page_cache = d.memory_settings.get("server.memory.pagecache.size") or \
        d.memory_settings.get("dbms.memory.pagecache.size")
    if d.metrics:
        hit = metric(d.metrics, "neo4j_dbms_page_cache_hit_ratio", "neo4j_page_cache_hit_ratio")
        usage = metric(d.metrics, "neo4j_dbms_page_cache_usage_ratio", "neo4j_page_cache_usage_ratio")
        size = f" of {page_cache}" if page_cache else ""
        if hit is not None:
            text = f"{name}: page cache{size}: hit ratio {hit:.1%}" + \
                (f", {usage:.0%} in use" if usage is not None else "")
            findings.append(_measured(hit < thresholds.page_cache_hit_ratio, "page-cache", text,
                                      "reads go to disk: the store does not fit the page cache; raise "
                                      "neo4j:pageCacheSize or the instance size (neo4j-admin server "
                                      "memory-recommendation), or warm it after restarts", name))
    elif d.facts.enterprise:
        findings.append(Finding(INFO, "page-cache", f"{name}: hit ratio unknown (metrics endpoint: "
                                                    f"{d.metrics_error or 'not reachable'})"
                                                    + (f"; size {page_cache}" if page_cache else ""),
                                "check server.metrics.prometheus.* and that port 2004 is open to you", name))
    else:
        findings.append(Finding(INFO, "page-cache", f"{name}: size {page_cache or 'unknown'}; hit ratio not exposed "
                                                    f"({d.facts.edition} edition has no metrics endpoint)",
                                server=name))
    return findings


def _measured(past_threshold: bool, area: str, text: str, action: str, server: str) -> Finding:
    """A measurement: past its threshold a warning with what to do, else a number worth knowing."""
    return Finding(WARNING, area, text, action, server) if past_threshold else Finding(INFO, area, text, server=server)


def _gib(size: float) -> str:
    return f"{size / 1024 ** 3:.2f} GiB" if size >= 1024 ** 3 else f"{size / 1024 ** 2:.0f} MiB"
