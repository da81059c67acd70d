"""The cluster's own replication health, `CALL dbms.cluster.statusCheck([])`, where the line has it (Enterprise 5.24+
and 2025): asked of every primary before a primary stops (the rollout's gate, issue 24 item 6) and in `make upgrade`'s
preflight. Operations Manual 5.x, clustering/monitoring/status-check.adoc: "Providing an empty list runs the status
check for all *clustered* databases on that server, i.e. it does not run on singles or secondaries"; "you can use the
`replicationSuccessful` field to determine overall write-availability, whereas the `memberStatus` field can be checked
in order to see whether the database is fault-tolerant or not"; UNAVAILABLE "means that the member is either too far
behind the leader or unreachable. They are unhealthy and cannot add to the fault-tolerance."
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import cluster, queries
from ..bolt import BoltError, Transport, statement_runner
from ..facts import ServerFacts
from ..shared.versions import Version
from ..target import Target

Rows = Mapping[str, "list[dict[str, Any]] | BoltError"]


def applies(facts: list[ServerFacts]) -> bool:
    """An Enterprise cluster whose release has the procedure."""
    ref = cluster.reference(facts)
    if ref is None or not ref.enterprise or cluster.is_standalone(facts) or not ref.version:
        return False
    try:
        return ref.line.has_cluster_status_check(Version.parse(ref.version))
    except ValueError:
        return False


def ask(target: Target, transport: Transport, facts: list[ServerFacts], timeout: float) -> dict:
    """primary → its rows, or the BoltError it answered; only reachable primaries are asked."""
    answers: dict = {}
    for f in facts:
        if not f.reachable or (f.spec.role or "primary") != "primary":
            continue
        try:
            answers[f.spec.name] = statement_runner(transport.client(f.spec.uri, target.auth, tls=target.tls),
                                                    timeout)(queries.CLUSTER_STATUS_CHECK)
        except BoltError as error:
            answers[f.spec.name] = error
    return answers


def problems(rows: Rows) -> tuple[list[str], int]:
    """(what is wrong, in words; how many rows were read)."""
    found, checked = [], 0
    for server in sorted(rows):
        answer = rows[server]
        if isinstance(answer, BoltError):
            found.append(f"{server}: {answer.message}")
            continue
        for row in answer:
            checked += 1
            where = f"{server} ({row.get('database')}, member {row.get('serverName') or row.get('address')})"
            if row.get("error"):
                found.append(f"{where}: {row['error']}")
            elif row.get("replicationSuccessful") is not True:
                found.append(f"{where}: replicationSuccessful {row.get('replicationSuccessful')}")
            elif row.get("memberStatus") == "UNAVAILABLE":
                found.append(f"{where}: UNAVAILABLE (too far behind the leader, or unreachable)")
    if rows and not checked and not found:
        found.append("dbms.cluster.statusCheck returned no row on any primary")
    return found, checked
