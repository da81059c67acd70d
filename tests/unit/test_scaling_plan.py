"""scaling/plan.py's refusals as a table: the majority rule on EVEN numbers of primaries, where `len // 2` and
`ceil(len / 2)` are the same number and an off-by-one in the rule goes unnoticed by the odd (3-primary) recorded
scenarios.

The rule (plan.refusals, quoting the Operations Manual's clustering/introduction.adoc): "A database remains
available for writes as long as a simple majority of its primary allocations are functioning." In Raft terms a
membership change is committed by a majority of the CURRENT members, so the primaries that stay and are available
must be more than half of the primaries the database has now, not of the topology it is lowered to: 2 of 4 is a
tie, and a tie elects no leader.
"""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.scaling.plan import refusals

DOMAIN = "prod.neo4j.internal:7687"


def address(name: str) -> str:
    return f"{name}.{DOMAIN}"


def cluster(primaries: int, unavailable: tuple[str, ...] = ()) -> tuple[list[dict], list[dict]]:
    """SHOW SERVERS and SHOW DATABASES rows: `primaries` cores hosting neo4j as primaries, two replicas hosting it
    as secondaries, every copy online; the servers named in `unavailable` report health Unavailable."""
    cores = [f"core-{n}" for n in range(1, primaries + 1)]
    replicas = ["replica-1", "replica-2"]
    servers = [{"address": address(s), "state": "Enabled",
                "health": "Unavailable" if s in unavailable else "Available"} for s in cores + replicas]
    databases = [{"name": "neo4j", "address": address(s), "role": "primary" if s in cores else "secondary",
                  "currentStatus": "online"} for s in cores + replicas]
    return servers, databases


def no_majority(problems: list[str]) -> list[str]:
    return [p for p in problems if "no majority" in p]


@pytest.mark.parametrize("primaries, leaving, unavailable, left_available", [
    (4, ("core-3", "core-4"), (), 2),  # 2 of 4: a tie, not a majority
    (4, ("core-4",), ("core-2",), 2),  # one leaves while another is down: 2 of 4
    (2, ("core-2",), (), 1),  # 1 of 2
    (6, ("core-4", "core-5", "core-6"), (), 3),  # 3 of 6
])
def test_scale_in_refuses_when_the_primaries_left_available_are_only_half_of_an_even_number(
        primaries, leaving, unavailable, left_available):
    servers, databases = cluster(primaries, unavailable)
    problems = refusals(servers, databases, {address(s) for s in leaving}, primaries - len(leaving), 2)
    assert no_majority(problems) == [
        f"neo4j: dropping primary {', '.join(sorted(address(s) for s in leaving))} leaves {left_available} "
        f"available of its {primaries} primaries, no majority: it would stop taking writes"]


@pytest.mark.parametrize("primaries, leaving", [
    (4, ("core-4",)),  # 3 of 4
    (6, ("core-5", "core-6")),  # 4 of 6
    (3, ("core-3",)),  # 2 of 3
])
def test_scale_in_allows_dropping_primaries_when_a_strict_majority_stays_available(primaries, leaving):
    servers, databases = cluster(primaries)
    assert refusals(servers, databases, {address(s) for s in leaving}, primaries - len(leaving), 2) == []
