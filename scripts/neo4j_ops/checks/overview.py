"""How a check run is shown to people: the servers' overview table (a row per server and database, with
its role, health and replication lag), the text of the whole report, and the line that says what is
being checked."""
from __future__ import annotations

from .. import cluster
from ..bolt import AUTH, TIMEOUT, TLS
from ..cli import table
from ..facts import ServerFacts
from ..target import Target
from .lag import Lag
from .results import CheckReport


def overview_rows(target: Target, facts: list[ServerFacts], lags: list[Lag]) -> list[dict[str, str]]:
    standalone = cluster.is_standalone(facts)
    by_key = {(lag.server, lag.database): lag for lag in lags}
    health_by_server = {}
    view = next((f for f in facts if f.reachable and f.servers), None)
    if view:
        for spec in target.servers:
            row = next((r for r in view.servers if r.get("address") in spec.aliases), None)
            health_by_server[spec.name] = row.get("health") if row else "not a member"
    rows = []
    databases = cluster.database_names(facts)
    for f in facts:
        spec = f.spec
        if not f.reachable:
            # A server that took the query but not within --timeout is reachable: say so, not "unreachable".
            health = {AUTH: "auth failed", TLS: "tls failed", TIMEOUT: "too slow"}.get(f.error.kind, "unreachable")
            rows.append({"server": spec.name, "address": spec.address, "role": "-", "database": "-",
                         "health": health, "lag": "-"})
            continue
        for database in databases:
            row = cluster.row_about(facts, spec, database)
            if row is None:
                continue
            role = cluster.display_role(row, standalone)
            health = str(row.get("currentStatus") or "?")
            server_health = health_by_server.get(spec.name)
            if server_health and server_health != "Available":
                health = f"{health}, {server_health}"
            lag = by_key.get((spec.name, database))
            if role in ("leader", "standalone"):
                lag_text = "-"
            elif lag is None:
                lag_text = "n/a"
            elif lag.note:
                lag_text = lag.note
            else:
                lag_text = f"{lag.behind or 0} tx, {lag.seconds or 0:.1f} s" + ("" if lag.caught_up else " (behind)")
            rows.append({"server": spec.name, "address": row.get("address") or spec.address, "role": role,
                         "database": database, "health": health, "lag": lag_text})
    return rows


def render_text(report: CheckReport, target: Target) -> str:
    headers = ["server", "address", "role", "database", "health", "lag"]
    lines = [table(headers, [[r[h] for h in headers] for r in report.rows]), ""]
    width = max((len(r.name) for r in report.results), default=10)
    for result in report.results:
        lines.append(f"{result.status}  {result.name.ljust(width)}  {result.detail}")
    failed = report.failed
    summary = (f"{len(failed)} check{'s' if len(failed) != 1 else ''} failed: {', '.join(r.name for r in failed)}"
               if failed else "all required checks passed")
    lines += ["", f"{summary} ({report.seconds:.2f} s)"]
    return "\n".join(lines)


def describe_target(target: Target) -> str:
    where = f"stack {target.stack}" if target.stack else (target.routing_uri or target.servers[0].uri)
    return f"checking {len(target.servers)} server{'s' if len(target.servers) != 1 else ''} of {where}"
