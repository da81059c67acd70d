"""The order of a rollout: pure functions from the cluster's view and the pending servers to ordered steps.

secondaries first, then primaries that lead nothing, the leader(s) last. Why:
- "The loss of a secondary does not affect the database's availability; however, it reduces the query
  throughput. It also does not affect the database fault tolerance." (5.x Operations Manual,
  clustering/introduction.adoc, "Database secondaries")
- A primary that leads nothing is one vote of a majority: the cluster keeps writing while it is away.
- A leader last, and leaders of fewer databases before those of more: each leader's restart costs an
  election of every database it leads ("writes to the database are ordered by the Core instance currently
  playing the _Leader_ role for the respective database", 4.4 clustering/internals.adoc), and when it goes
  last the new leader is a server that is already done, so a database changes leader once, not once per
  server. Before a leader stops, the run moves its leaderships away where the line can (leadership.py: the manual
  has no procedure for it on any line; a database made read-only on a server has its leadership moved away by the
  cluster), and `system`'s goes by the election after the stop.

Where the view comes from:
- 5.x / 2025: SHOW DATABASES rows (a row per database per hosting server: `role` "primary" | "secondary",
  `writer` "`true` for the database node that accepts writes", 5.x clustering/monitoring/
  show-databases-monitoring.adoc), read through cluster.py like check does.
- 4.4: `CALL dbms.cluster.overview()` ("it is possible to connect to any of the instances and run `CALL
  dbms.cluster.overview()` to check the status of the cluster", 4.4 clustering/deploy.adoc): each member's
  bolt address and {database: LEADER | FOLLOWER | READ_REPLICA}.
- Community: every server is a standalone server ("In a standalone deployment with a single server ... the
  `writer` field should be true", show-databases-monitoring.adoc): there is no cluster leader to protect,
  and servers go in the order of their configured role.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .. import cluster
from ..facts import ServerFacts
from ..target import Target

SECONDARY, PRIMARY, STANDALONE = "secondary", "primary", "standalone"
# Rank of a server in the order, and the words for it.
SECONDARIES, FOLLOWERS, LEADERS = 0, 1, 2


@dataclass(frozen=True)
class Member:
    name: str
    role: str  # primary | secondary | standalone
    leads: tuple[str, ...] = ()  # databases it is the writer (leader) of
    note: str = ""  # e.g. "not in the cluster view"


@dataclass(frozen=True)
class ClusterView:
    members: tuple[Member, ...]
    source: str  # where the roles were read: "SHOW DATABASES", "dbms.cluster.overview()", "standalone"

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)


@dataclass(frozen=True)
class Step:
    server: str
    rank: int  # SECONDARIES, FOLLOWERS, LEADERS
    reason: str

    def to_json(self) -> dict:
        return {"server": self.server, "reason": self.reason}


def view_from_facts(target: Target, facts: list[ServerFacts]) -> ClusterView:
    """Roles and leaders of the target's servers, from the facts check gathers."""
    ref = cluster.reference(facts)
    if ref is None or not ref.enterprise:
        return ClusterView(tuple(Member(s.name, STANDALONE, (), f"configured {s.role}" if s.role else "")
                                 for s in target.servers), STANDALONE)
    if not ref.line.supports_show_servers:
        return _view_44(target, facts)
    claims = cluster.writer_claims(facts)
    members = []
    for spec in target.servers:
        rows = cluster.row_rows(facts, spec)
        roles = {cluster.role_of(r) for r in rows} - {"unknown"}
        role = PRIMARY if PRIMARY in roles else SECONDARY if roles == {SECONDARY} else (spec.role or PRIMARY)
        leads = tuple(sorted(db for db, writers in claims.items()
                             if cluster.expected_writer(writers) in spec.aliases))
        members.append(Member(spec.name, role, leads, "" if rows else "hosts nothing in the cluster view"))
    return ClusterView(tuple(members), "SHOW DATABASES")


def _view_44(target: Target, facts: list[ServerFacts]) -> ClusterView:
    view = next((f for f in facts if f.reachable and f.overview is not None), None)
    rows = view.overview if view is not None else []
    by_address = {}
    for row in rows or []:
        bolt = next((a for a in row.get("addresses") or [] if str(a).startswith("bolt://")), None)
        if bolt:
            by_address[bolt.split("://", 1)[1]] = row.get("databases") or {}
    members = []
    for spec in target.servers:
        databases = next((dbs for address, dbs in by_address.items() if address in spec.aliases), None)
        if databases is None:
            members.append(Member(spec.name, spec.role or PRIMARY, (), "not in dbms.cluster.overview()"))
            continue
        roles = {cluster.ROLE_44.get(str(r).upper(), "unknown") for r in databases.values()} - {"unknown"}
        role = SECONDARY if roles == {SECONDARY} else PRIMARY
        leads = tuple(sorted(db for db, r in databases.items() if str(r).upper() == "LEADER"))
        members.append(Member(spec.name, role, leads))
    return ClusterView(tuple(members), "dbms.cluster.overview()")


def rank_of(member: Member) -> tuple[int, str]:
    if member.leads:
        return LEADERS, f"leader of {', '.join(member.leads)}: last, so its leaderships go to servers already " \
                        f"done"
    if member.role == SECONDARY:
        return SECONDARIES, "secondary: its absence costs neither availability nor fault tolerance"
    if member.role == STANDALONE:
        note = f" ({member.note})" if member.note else ""
        return (SECONDARIES if "secondary" in member.note else FOLLOWERS), \
            f"standalone server{note}: no cluster roles to protect"
    return FOLLOWERS, "primary leading nothing: one vote of the majority; writes continue while it is away"


def order(view: ClusterView, pending: Collection[str]) -> list[Step]:
    """The steps for the pending servers: secondaries, primaries leading nothing, then leaders, the server leading
    the most databases last (leader balancing spreads the leaders of many databases over the primaries: the one
    leading most goes when the others are done, whatever moved meanwhile); ties keep the order `pending` gives (the
    stack's server order). A pending server the view does not know goes with the primaries leading nothing, its
    note says why."""
    steps = []
    for position, name in enumerate(pending):
        member = view.member(name) or Member(name, PRIMARY, (), "not in the cluster view")
        rank, reason = rank_of(member)
        if member.note and member.role != STANDALONE:
            reason += f" ({member.note})"
        steps.append((rank, len(member.leads), position, Step(name, rank, reason)))
    return [step for *_, step in sorted(steps, key=lambda item: item[:3])]
