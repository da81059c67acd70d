"""Findings about the cluster as a whole: servers that cannot be reached, writers per database (none,
or a split brain), membership, databases not in their requested state, replication lag; then each
server's own findings (server_findings.py), most severe first."""
from __future__ import annotations

from .. import cluster
from ..bolt import AUTH
from ..checks.lag import Lag
from ..facts import ServerFacts
from ..shared.versions import VersionLine
from ..target import Target
from .gather import ServerDiagnosis
from .report import CRITICAL, INFO, ORDER, WARNING, Finding, Thresholds
from .server_findings import memory_findings, transaction_findings


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
            findings += transaction_findings(d, thresholds)
            findings += memory_findings(d, thresholds)
    return sorted(findings, key=lambda f: (ORDER[f.severity], f.area, f.server or ""))


def _leaders(target: Target, facts: list[ServerFacts], line: VersionLine) -> list[Finding]:
    findings = []
    if cluster.is_standalone(facts):
        # Community servers are each their own cluster.
        for f in facts:
            lost = [row["name"] for row in f.own_rows() if not cluster.is_writer(row)] if f.reachable else []
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
