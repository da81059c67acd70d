"""Which servers an online backup is taken from: those that host the database, chosen at run time from
the cluster's own view (`SHOW DATABASES YIELD *`, asked on the local server), not names fixed at
deploy time.

Order: secondaries (4.4: read_replica) before followers (primaries that do not lead the database; 4.4:
follower); the writer (4.4: leader) only when nothing else hosts it online, so a primary that leads is
never read while another copy can serve; among equals the named --from server when it qualifies, then
the copy furthest ahead, then by address. A named server that moved, is down or hosts no copy is passed
over with a note, never a failure.

5.x and 2025 get the whole list as one `--from` ("Comma-separated list of host and port of Neo4j
instances, each of which are tried in order"; "It is recommended to provide a list of multiple target
servers when taking a backup from a cluster, since that may allow a backup to succeed even if some
server is down", Operations Manual 5.x and dev, backup-restore/online-backup.adoc); 4.4 takes one
("--from | localhost:6362 | Host and port of Neo4j.", 4.4 online-backup.adoc: no list), the first.
Pure: the rows in, the choice and why out.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..shared.errors import BackupError

RANK = {"secondary": 0, "read_replica": 0, "follower": 1, "leader": 2}


@dataclass(frozen=True)
class Source:
    address: str  # host:backup port
    host: str
    kind: str  # secondary | follower | writer
    why: str


def _kind(row: Mapping[str, Any]) -> str | None:
    role = str(row.get("role") or "").lower()
    if role in ("secondary", "read_replica"):
        return "secondary"
    if role == "follower" or (role == "primary" and row.get("writer") is False):
        return "follower"
    if role == "leader" or (role == "primary" and row.get("writer") is True):
        return "writer"
    return None


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0] if ":" in address else address


def choose_sources(rows: Iterable[Mapping[str, Any]], database: str, backup_port: int,
                   preferred: str | None = None) -> list[Source]:
    """The backup listeners to back `database` up from, best first (see the module's order); BackupError
    saying what the cluster shows if none. The first one's `why` carries the notes."""
    wanted = _host(preferred) if preferred and preferred != "auto" else None
    rows = [r for r in rows if r.get("name") == database]
    hosting = [r for r in rows if r.get("address") and str(r.get("currentStatus", "")).lower() == "online"
               and _kind(r) is not None]
    if not hosting:
        seen = ", ".join(f"{r.get('address') or '?'} {r.get('role') or '?'} {r.get('currentStatus') or '?'}"
                         for r in rows) or "no server lists it"
        raise BackupError(f"no server hosts database {database!r} online, as the cluster sees it ({seen}): "
                          f"nothing to back up from")
    order = {"secondary": 0, "follower": 1, "writer": 2}

    def key(row):
        txn = row.get("lastCommittedTxn")
        return (order[_kind(row)], _host(row["address"]) != wanted, -(txn if isinstance(txn, int) else -1),
                row["address"])
    ranked = sorted(hosting, key=key)
    if _kind(ranked[0]) != "writer":
        ranked = [r for r in ranked if _kind(r) != "writer"]
    best = ranked[0]
    host, kind = _host(best["address"]), _kind(best)
    notes = []
    if wanted and host != wanted:
        named = [r for r in rows if r.get("address") and _host(r["address"]) == wanted]
        state = (f"is a {_kind(named[0]) or named[0].get('role')} there, {named[0].get('currentStatus')}"
                 if named else "hosts no copy of it")
        notes.append(f"the named server {wanted} {state}")
    if kind == "writer":
        notes.append("no secondary or follower hosts it online: backing up from the writer")
    why = f"{kind} hosting {database!r} online ({len(hosting)} server(s) host it)"
    if notes:
        why += "; " + "; ".join(notes)
    sources = [Source(f"{host}:{backup_port}", host, kind, why)]
    for row in ranked[1:]:
        sources.append(Source(f"{_host(row['address'])}:{backup_port}", _host(row["address"]), _kind(row),
                              f"{_kind(row)} hosting {database!r} online"))
    return sources


def choose_source(rows: Iterable[Mapping[str, Any]], database: str, backup_port: int,
                  preferred: str | None = None) -> Source:
    """The best backup listener to back `database` up from (the first of choose_sources)."""
    return choose_sources(rows, database, backup_port, preferred)[0]


# The lines whose `--from` takes a comma-separated list (see the module's docstring); 4.4 takes one server.
FROM_TAKES_A_LIST = frozenset({"5", "2025"})


def from_option(sources: Sequence[Source], line_name: str) -> str:
    """The value of neo4j-admin's --from: every source in order (5.x, 2025), or the first (4.4)."""
    if line_name in FROM_TAKES_A_LIST:
        return ",".join(s.address for s in sources)
    return sources[0].address
