"""The troubleshooting guide as a command: findings, each with a suggested action.

Per server, at once: who it is and how it sees the cluster (as the checks do), its transactions
(SHOW TRANSACTIONS on 5.x+, dbms.listQueries/listTransactions on 4.4), heap use (JMX
java.lang:type=Memory), memory settings, and on Enterprise the Prometheus endpoint (page-cache
hit and usage ratios, heap). Then: leaders per database (split brain), cluster membership,
database states, replication lag, slow queries, idle and blocked transactions, heap and page
cache. Findings are critical (the cluster is not serving as it should), warning (it will
hurt), or info (numbers worth knowing).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from scripts.neo4j_ops import cluster
from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.bolt import AUTH, BoltError, Transport
from scripts.neo4j_ops.checks import Lag, measure_lag, metrics_urls
from scripts.neo4j_ops.facts import ServerFacts, gather
from scripts.neo4j_ops.parallel import TaskTimeoutError, run_all
from scripts.neo4j_ops.target import Target
from scripts.neo4j_ops.versions import VersionLine

CRITICAL, WARNING, INFO = "critical", "warning", "info"
ORDER = {CRITICAL: 0, WARNING: 1, INFO: 2}
QUERY_PREVIEW = 160


@dataclass
class Finding:
    severity: str
    area: str
    summary: str
    action: str = ""
    server: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "area": self.area, "server": self.server, "summary": self.summary,
                "action": self.action}


@dataclass
class Thresholds:
    slow_query_seconds: float = 1.0
    max_lag_seconds: float = 10.0
    heap_ratio: float = 0.85
    page_cache_hit_ratio: float = 0.98


@dataclass
class ServerDiagnosis:
    facts: ServerFacts
    transactions: list[dict[str, Any]] = field(default_factory=list)
    transactions_error: str | None = None
    heap: dict[str, Any] | None = None
    memory_settings: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] | None = None
    metrics_error: str | None = None


@dataclass
class DiagnoseReport:
    findings: list[Finding]
    seconds: float
    version: str | None
    edition: str | None
    servers: int

    @property
    def attention(self) -> list[Finding]:
        return [f for f in self.findings if f.severity in (CRITICAL, WARNING)]

    def to_json(self) -> dict[str, Any]:
        counts = {s: sum(1 for f in self.findings if f.severity == s) for s in ORDER}
        return {"ok": not self.attention, "seconds": round(self.seconds, 3), "version": self.version,
                "edition": self.edition, "servers": self.servers, "counts": counts,
                "findings": [f.to_json() for f in self.findings]}


# --- gathering -------------------------------------------------------------------------------------


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


# --- analysis --------------------------------------------------------------------------------------


def analyse(target: Target, diagnoses: list[ServerDiagnosis], lags: list[Lag] | str | None,
            thresholds: Thresholds) -> list[Finding]:
    facts = [d.facts for d in diagnoses]
    findings: list[Finding] = []
    for d in diagnoses:
        f = d.facts
        if not f.reachable:
            action = ("check the password (--password-env)" if f.error.kind == AUTH else
                      "is the service running (systemctl status neo4j / docker ps)? is the port open "
                      "(security group, firewall)? read neo4j.log and debug.log on that machine")
            findings.append(Finding(CRITICAL, "reachability", f"{f.spec.name} ({f.spec.address}): {f.error.message}",
                                    action, f.spec.name))
    ref = cluster.reference(facts)
    if ref is None:
        return findings
    findings += _leaders(target, facts, ref.line)
    if ref.enterprise:
        view = cluster.topology(target, facts, ref.line)
        action = ("SHOW SERVERS on the system database shows each server's state and health; "
                  "a Free server needs ENABLE SERVER, an Unavailable one its logs and network"
                  if ref.line.supports_show_servers else
                  "CALL dbms.cluster.overview() on each core lists the members it sees and their roles; a "
                  "missing one needs its logs and the discovery port (5000) between it and the cores")
        for problem in view.problems:
            findings.append(Finding(CRITICAL, "membership", problem, action))
    status_column = ref.line.database_status_column
    for problem in cluster.database_status_problems(target, facts):
        findings.append(Finding(CRITICAL, "database", problem,
                                f"read {status_column} (SHOW DATABASES) and debug.log of that server; START "
                                f"DATABASE once the cause is fixed"))
    findings += _lag(lags, thresholds)
    for d in diagnoses:
        if d.facts.reachable:
            findings += _transactions(d, thresholds)
            findings += _memory(d, thresholds)
    return sorted(findings, key=lambda f: (ORDER[f.severity], f.area, f.server or ""))


def _leaders(target: Target, facts: list[ServerFacts], line: VersionLine) -> list[Finding]:
    findings = []
    if cluster.is_standalone(facts):
        # Community servers are each their own cluster.
        for f in facts:
            lost = [row["name"] for row in f.own_rows() if not row.get("writer")] if f.reachable else []
            if lost:
                findings.append(Finding(CRITICAL, "leader", f"{f.spec.name} does not accept writes for "
                                                            f"{', '.join(lost)}", "read its neo4j.log", f.spec.name))
        return findings or [Finding(INFO, "leader", "standalone server(s): each is the writer of its databases")]
    claims = cluster.writer_claims(facts)
    membership = "SHOW SERVERS" if line.supports_show_servers else "CALL dbms.cluster.overview()"
    leaders = []
    for database in cluster.database_names(facts):
        writers = claims.get(database, {})
        if len(writers) > 1:
            sides = "; ".join(f"{target.label(addr)} according to {', '.join(sorted(seen))}"
                              for addr, seen in sorted(writers.items()))
            findings.append(Finding(CRITICAL, "split-brain", f"SPLIT BRAIN: {database} has {len(writers)} writers: "
                                                             f"{sides}",
                                    f"stop client writes; find the network partition ({membership} on each side); "
                                    "let the minority side rejoin, never restart the majority; then check the "
                                    "writes each side accepted"))
        elif not writers:
            findings.append(Finding(CRITICAL, "leader", f"{database} has no writer (no leader)",
                                    "a majority of the primaries must be up and reach each other on the raft and "
                                    "cluster ports: check the servers that are down and the security groups"))
        else:
            leaders.append(f"{database} → {target.label(next(iter(writers)))}")
    if leaders:
        findings.append(Finding(INFO, "leader", "writers: " + ", ".join(leaders)))
    return findings


def _lag(lags: list[Lag] | str | None, thresholds: Thresholds) -> list[Finding]:
    if lags is None:
        return []
    if isinstance(lags, str):
        return [Finding(INFO, "replication-lag", f"not measured: {lags}")]
    findings = []
    for lag in lags:
        if lag.note:
            findings.append(Finding(WARNING, "replication-lag", f"{lag.server} on {lag.database}: {lag.note}",
                                    server=lag.server))
        elif not lag.caught_up:
            findings.append(Finding(WARNING, "replication-lag",
                                    f"{lag.server} on {lag.database} is {lag.behind} transactions behind its writer "
                                    f"and did not catch up within {thresholds.max_lag_seconds:g} s",
                                    "check the network between that server and the primaries, its disk I/O, and "
                                    "catch-up errors in its debug.log; a copy that fell far behind may need a store "
                                    "copy (it does this by itself) or a restart", lag.server))
    if lags and not findings:
        worst = max(lags, key=lambda lag: lag.seconds or 0)
        text = (f"{len(lags)} copies caught up; worst {worst.server} on {worst.database}: {worst.behind} "
                f"transactions behind, caught up in {worst.seconds:.1f} s" if worst.seconds else
                f"all {len(lags)} copies are at their writer's last committed transaction")
        findings.append(Finding(INFO, "replication-lag", text))
    return findings


def _transactions(d: ServerDiagnosis, thresholds: Thresholds) -> list[Finding]:
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
                                    "LIMIT or db.transaction.timeout; to stop it now: " + stop, name))
        elif elapsed > thresholds.slow_query_seconds:
            locks = tx.get("activeLockCount")
            held = f", holding {locks} locks" if locks else ""
            findings.append(Finding(WARNING, "open-transaction", f"{name}: {who} open for {elapsed:.1f} s without "
                                                                 f"running a query{held}",
                                    "a client keeps a transaction open: close sessions and transactions in the "
                                    "application (or set db.transaction.timeout); to end it now: " + stop, name))
    findings.append(Finding(INFO, "transactions", f"{name}: {len(own)} open transaction{'s' if len(own) != 1 else ''}",
                            server=name))
    return findings


def _preview(query: str) -> str:
    return query if len(query) <= QUERY_PREVIEW else query[:QUERY_PREVIEW - 1] + "…"


def _memory(d: ServerDiagnosis, thresholds: Thresholds) -> list[Finding]:
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
        if ratio > thresholds.heap_ratio:
            findings.append(Finding(WARNING, "heap", text,
                                    "look for memory-hungry queries (estimatedUsedHeapMemory in SHOW TRANSACTIONS) "
                                    "and long GC pauses in gc.log; if it stays high, raise neo4j:heapSize or use a "
                                    "bigger instance type", name))
        else:
            findings.append(Finding(INFO, "heap", text, server=name))
    page_cache = d.memory_settings.get("server.memory.pagecache.size") or \
        d.memory_settings.get("dbms.memory.pagecache.size")
    if d.metrics:
        hit = metric(d.metrics, "neo4j_dbms_page_cache_hit_ratio", "neo4j_page_cache_hit_ratio")
        usage = metric(d.metrics, "neo4j_dbms_page_cache_usage_ratio", "neo4j_page_cache_usage_ratio")
        size = f" of {page_cache}" if page_cache else ""
        if hit is not None:
            text = f"{name}: page cache{size}: hit ratio {hit:.1%}" + \
                (f", {usage:.0%} in use" if usage is not None else "")
            if hit < thresholds.page_cache_hit_ratio:
                findings.append(Finding(WARNING, "page-cache", text,
                                        "reads go to disk: the store does not fit the page cache; raise "
                                        "neo4j:pageCacheSize or the instance size (neo4j-admin server "
                                        "memory-recommendation), or warm it after restarts", name))
            else:
                findings.append(Finding(INFO, "page-cache", text, server=name))
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


def _gib(size: float) -> str:
    return f"{size / 1024 ** 3:.2f} GiB" if size >= 1024 ** 3 else f"{size / 1024 ** 2:.0f} MiB"


# --- the run ---------------------------------------------------------------------------------------


def run_diagnosis(target: Target, transport: Transport, *, timeout: float = 5.0,
                  thresholds: Thresholds | None = None) -> DiagnoseReport:
    thresholds = thresholds or Thresholds()
    start = time.monotonic()
    outcomes = run_all({s.name: (lambda s=s: gather_server(target, s, transport, timeout)) for s in target.servers},
                       6 * timeout + 2)
    diagnoses = []
    for spec in target.servers:
        outcome = outcomes[spec.name]
        if outcome.ok:
            diagnoses.append(outcome.value)
        else:
            message = str(outcome.error) if isinstance(outcome.error, TaskTimeoutError) else repr(outcome.error)
            diagnoses.append(ServerDiagnosis(ServerFacts(spec, error=BoltError("unreachable", message))))
    facts = [d.facts for d in diagnoses]
    ref = cluster.reference(facts)
    lags = measure_lag(target, facts, transport, thresholds.max_lag_seconds, timeout) if ref else None
    findings = analyse(target, diagnoses, lags, thresholds)
    return DiagnoseReport(findings, time.monotonic() - start, ref.version if ref else None,
                          ref.edition if ref else None, len(target.servers))


def render_text(report: DiagnoseReport, target: Target) -> str:
    where = f"stack {target.stack}" if target.stack else (target.routing_uri or target.servers[0].uri)
    lines = [f"diagnose: {report.servers} server{'s' if report.servers != 1 else ''} of {where}, "
             f"Neo4j {report.version or '?'} {report.edition or ''} ({report.seconds:.2f} s)", ""]
    width = max((len(f.area) for f in report.findings), default=8)
    for finding in report.findings:
        lines.append(f"{finding.severity.upper():<9}{finding.area.ljust(width)}  {finding.summary}")
        if finding.action:
            lines.append(f"{'':<9}{'':<{width}}  → {finding.action}")
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in ORDER}
    lines += ["", f"summary: {counts[CRITICAL]} critical, {counts[WARNING]} warning, {counts[INFO]} info"
                  + ("" if report.attention else " — nothing needs attention")]
    return "\n".join(lines)


DIAGNOSE_DOC = """Troubleshooting report of a running Neo4j cluster: findings with suggested actions.

Looks at: servers that cannot be reached; writers per database (no leader, split brain);
membership (SHOW SERVERS / dbms.cluster.overview); databases not in their requested state;
replication lag; slow queries (SHOW TRANSACTIONS on 5.x+, dbms.listQueries on 4.4) over
--slow-query; idle and blocked transactions; heap use (JMX); page-cache size, hit and usage
ratio (Enterprise metrics endpoint).

Exit status: 0 nothing needs attention, 1 a critical or warning finding, 2 usage error, 130 interrupted."""

DIAGNOSE_EXAMPLE = """examples:
  NEO4J_PASSWORD=… python scripts/diagnose.py --stack prod
  NEO4J_PASSWORD=… python scripts/diagnose.py --uri bolt://127.0.0.1:7687 --slow-query 0.5 --json"""


def main(argv: list[str] | None = None, *, transport: Transport | None = None) -> int:
    from scripts.neo4j_ops import cli, cluster_cli
    from scripts.neo4j_ops.target import build_target, stack_settings

    p = cli.parser("diagnose", DIAGNOSE_DOC, DIAGNOSE_EXAMPLE)
    cluster_cli.add_target_arguments(p)
    p.add_argument("--slow-query", type=float, metavar="SECONDS",
                   help="report queries and open transactions older than this (default: the stack's "
                        "neo4j:slowQueryThreshold, else 1)")
    p.add_argument("--max-lag", type=float, default=10.0, metavar="SECONDS", help="replication lag allowed "
                                                                                  "(default: 10)")
    p.add_argument("--heap-warn", type=float, default=0.85, metavar="RATIO", help="heap use that is a warning "
                                                                                  "(default: 0.85)")
    p.add_argument("--hit-ratio-warn", type=float, default=0.98, metavar="RATIO",
                   help="page-cache hit ratio below which it is a warning (default: 0.98)")
    p.add_argument("--metrics-port", type=int, metavar="PORT", help="Prometheus port on each server (default: 2004)")
    p.add_argument("--metrics-url", action="append", metavar="[NAME=]URL", help="explicit metrics URL (repeat)")
    p.add_argument("--tls", choices=("disabled", "optional", "required"),
                   help="TLS level of the servers (default: the stack's; optional/required need --ca-cert)")
    p.add_argument("--record", metavar="FILE", help="also write every answer to FILE as a replayable scenario")
    args = p.parse_args(argv)

    def body() -> int:
        target = build_target(args)
        slow = args.slow_query
        if slow is None:
            settings = stack_settings(args.stack, args.stack_file)
            slow = _seconds(settings.slow_query_threshold) if settings else 1.0
        thresholds = Thresholds(slow, args.max_lag, args.heap_warn, args.hit_ratio_warn)
        return cluster_cli.report_on_servers(
            args, target, transport, progress=f"diagnosing {len(target.servers)} server(s) …",
            source=f"scripts/diagnose.py from {len(target.servers)} server(s)",
            run=lambda real: run_diagnosis(target, real, timeout=args.timeout, thresholds=thresholds),
            render=lambda report: render_text(report, target), failed=lambda report: report.attention)

    return cli.run("diagnose", body)


def _seconds(duration: str) -> float:
    match = re.match(r"^(\d+)(ms|s|m|h)$", duration)
    if not match:
        return 1.0
    number, unit = int(match[1]), match[2]
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
