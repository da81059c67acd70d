"""What diagnose reports: findings (critical, warning, info), each with a suggested action, and the text."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..target import Target

CRITICAL, WARNING, INFO = "critical", "warning", "info"


ORDER = {CRITICAL: 0, WARNING: 1, INFO: 2}


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
