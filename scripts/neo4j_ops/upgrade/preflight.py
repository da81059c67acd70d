"""The preflight of `make upgrade` (issue 24, item 2): what must hold before the first server is replaced with another
release. Each finding is a pure function of what was read (the servers' facts, the bucket's backups, the status
check's and the settings' rows); `gather_preflight` reads them.

  version     the path from what each server runs to the target (shared/upgrade_paths.py): a refusal is a usage
              error before anything else is asked
  backup      every database (system too) has a verified backup (its manifest's consistency check passed, restorable,
              its chain whole) completed within neo4j:upgradeMaxBackupAgeHours
  databases   every database's requested status equals its current one (check's databases check)
  hosting     5.x+: SHOW SERVERS `hosting` equals `requestedHosting` on every server (Upgrade and Migration Guide,
              in-place rolling upgrade: "check servers are hosting all their assigned databases. The query should
              return no results: SHOW SERVERS YIELD name, hosting, requestedHosting, serverId WHERE requestedHosting
              <> hosting")
  status      5.24+ and 2025: `CALL dbms.cluster.statusCheck([])` on every primary: each row replicationSuccessful
              and no member UNAVAILABLE (Operations Manual 5.x, clustering/monitoring/status-check.adoc: "you can use
              the `replicationSuccessful` field to determine overall write-availability, whereas the `memberStatus`
              field can be checked in order to see whether the database is fault-tolerant or not"; UNAVAILABLE
              "means that the member is either too far behind the leader or unreachable")
  discovery   5.26 → 2025: every server runs discovery v2 only (the guide: "In the 2025.01 release, discovery service
              v1 is removed. Therefore, you must transition to v2 before upgrading to any 2025-2026 version")
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import cluster, queries
from ..backup.layout import Backup, parse_time
from ..bolt import BoltError, statement_runner
from ..checks.membership import databases_result
from ..checks.results import FAIL, PASS, SKIP
from ..facts import ServerFacts
from ..rollout import status_check
from ..shared.upgrade_paths import UpgradePath
from ..shared.versions import Version, server_line
from ..target import Target

V2_ONLY = "V2_ONLY"


@dataclass(frozen=True)
class Finding:
    name: str
    status: str  # PASS | FAIL | SKIP (checks/results.py's words)
    detail: str


@dataclass(frozen=True)
class Preflight:
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.status != FAIL for f in self.findings)

    def to_json(self) -> list[dict[str, str]]:
        return [{"check": f.name, "status": f.status, "detail": f.detail} for f in self.findings]


def _age_hours(backup: Backup, now: datetime) -> float:
    completed = backup.manifest.completed if backup.manifest and backup.manifest.completed else backup.timestamp
    return (now - parse_time(completed)).total_seconds() / 3600


def backup_finding(backups: Mapping[str, list[Backup]], now: datetime, max_age_hours: int) -> Finding:
    """`backups`: database → its backups (as backup/layout.py catalogues them). Verified: restorable and its
    manifest's check "passed" (a skipped check is not verification)."""
    key = "neo4j:upgradeMaxBackupAgeHours"
    if not backups:
        return Finding("backup", FAIL, "no database to look up backups for")
    fresh, problems = [], []
    for database in sorted(backups):
        verified = [b for b in backups[database] if b.restorable and b.manifest.check == "passed"]
        if not verified:
            problems.append(f"{database}: no verified backup (a restorable one whose consistency check passed)")
            continue
        newest = max(verified, key=lambda b: b.timestamp)
        age = _age_hours(newest, now)
        if age > max_age_hours:
            problems.append(f"{database}: newest verified backup {newest.timestamp} is {age:.1f} h old, over "
                            f"{key} {max_age_hours}")
        else:
            fresh.append(f"{database} {newest.timestamp} ({age:.1f} h)")
    if problems:
        return Finding("backup", FAIL, "; ".join(problems) + "; run `make backup` (or raise the key) and try again")
    return Finding("backup", PASS, f"verified within {max_age_hours} h: {', '.join(fresh)}")


def databases_finding(target: Target, facts: list[ServerFacts]) -> Finding:
    result = databases_result(target, facts)
    return Finding("databases", result.status, result.detail)


def hosting_finding(facts: list[ServerFacts]) -> Finding:
    view = next((f for f in facts if f.reachable and f.servers is not None), None)
    if view is None or not any("requestedHosting" in row for row in view.servers):
        return Finding("hosting", SKIP, "no SHOW SERVERS hosting to compare (4.4, or Community)")
    differ = [f"{row.get('address')}: hosting {sorted(row.get('hosting') or [])}, requested "
              f"{sorted(row.get('requestedHosting') or [])}" for row in view.servers
              if set(row.get("hosting") or []) != set(row.get("requestedHosting") or [])]
    if differ:
        return Finding("hosting", FAIL, "; ".join(differ))
    return Finding("hosting", PASS, f"every server hosts what it is requested to ({len(view.servers)} servers)")


def status_finding(rows: Mapping[str, list[dict[str, Any]] | BoltError] | None) -> Finding:
    """`rows`: primary → its statusCheck rows (or the error); None where the line has no status check."""
    if rows is None:
        return Finding("status", SKIP, "the line has no dbms.cluster.statusCheck (5.24+ and 2025 have)")
    if not rows:
        return Finding("status", SKIP, "no primary to ask (Community or standalone)")
    found, checked = status_check.problems(rows)
    if found:
        return Finding("status", FAIL, "dbms.cluster.statusCheck: " + "; ".join(found))
    return Finding("status", PASS, f"dbms.cluster.statusCheck([]) on {', '.join(sorted(rows))}: every replication "
                                   f"successful, no member UNAVAILABLE ({checked} rows)")


def discovery_finding(paths: list[UpgradePath], rows: Mapping[str, list[dict[str, Any]] | BoltError]) -> Finding:
    """5.26 → 2025: every server's dbms.cluster.discovery.version is V2_ONLY; other paths keep discovery as is."""
    if not any(p.changes_line for p in paths):
        return Finding("discovery", SKIP, "the target is on the same line: discovery unchanged")
    problems = []
    for server in sorted(rows):
        answer = rows[server]
        if isinstance(answer, BoltError):
            problems.append(f"{server}: {answer.message}")
            continue
        value = next((str(r.get("value")) for r in answer if r.get("name") == "dbms.cluster.discovery.version"), None)
        if value is None:
            continue  # the server does not know the setting (Community): no discovery service to move
        if value.upper() != V2_ONLY:
            problems.append(f"{server}: dbms.cluster.discovery.version={value}")
    if problems:
        return Finding("discovery", FAIL, "2025.01 removed discovery v1; move every server to V2_ONLY first "
                                          "(Operations Manual 5.x, \"Moving from discovery service v1 to v2\"): "
                                          + "; ".join(problems))
    return Finding("discovery", PASS, f"every server runs discovery v2 only ({V2_ONLY}); the target's neo4j.conf "
                                      f"names dbms.cluster.endpoints, as 2025 reads it")


def primaries(target: Target, facts: list[ServerFacts]) -> list[ServerFacts]:
    return [f for f in facts if f.reachable and (f.spec.role or "primary") == "primary"]


def ask_each(target: Target, transport, facts: list[ServerFacts], statement: queries.Named, timeout: float) \
        -> dict[str, list[dict[str, Any]] | BoltError]:
    answers: dict[str, list[dict[str, Any]] | BoltError] = {}
    for f in facts:
        try:
            answers[f.spec.name] = statement_runner(transport.client(f.spec.uri, target.auth, tls=target.tls),
                                                    timeout)(statement)
        except BoltError as error:
            answers[f.spec.name] = error
    return answers


def gather_preflight(target: Target, transport, facts: list[ServerFacts], paths: list[UpgradePath],
                     backups: Mapping[str, list[Backup]], *, max_age_hours: int, timeout: float,
                     now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Preflight:
    ref = cluster.reference(facts)
    enterprise_cluster = ref is not None and ref.enterprise and not cluster.is_standalone(facts)
    version = Version.parse(ref.version) if ref is not None and ref.version else None
    line = server_line(ref.version if ref else None)
    status_rows = None
    if version is not None and line.has_cluster_status_check(version):
        status_rows = ask_each(target, transport, primaries(target, facts), queries.CLUSTER_STATUS_CHECK, timeout) \
            if enterprise_cluster else {}
    discovery_rows = {}
    if any(p.changes_line for p in paths):
        discovery_rows = ask_each(target, transport, [f for f in facts if f.reachable], queries.DISCOVERY_VERSION,
                                  timeout)
    return Preflight((backup_finding(backups, now(), max_age_hours), databases_finding(target, facts),
                      hosting_finding(facts), status_finding(status_rows), discovery_finding(paths, discovery_rows)))


def database_names(facts: list[ServerFacts]) -> list[str]:
    """The databases a backup must cover: every standard database the cluster lists, and system."""
    names = {row["name"] for f in facts if f.reachable for row in (f.databases or [])
             if row.get("type") != "composite" and row.get("name")}
    return sorted(names | {"system"})
