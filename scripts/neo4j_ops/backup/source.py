"""Which server an online backup is taken from: one that hosts the database, chosen at run time from
the cluster's own view (`SHOW DATABASES YIELD *`, asked on the local server), not a name fixed at
deploy time.

Order: a secondary (4.4: read_replica) before a follower (a primary that is not the writer; 4.4:
follower), the writer (4.4: leader) only when nothing else hosts it online; among equals the
named --from server when it qualifies, then the copy furthest ahead, then by address. A named
server that moved, is down or hosts no copy is passed over with a note, never a failure.
Pure: the rows in, the choice and why out.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def choose_source(rows: Iterable[Mapping[str, Any]], database: str, backup_port: int,
                  preferred: str | None = None) -> Source:
    """The backup listener to back `database` up from; BackupError saying what the cluster shows if none."""
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
    best = min(hosting, key=key)
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
    return Source(f"{host}:{backup_port}", host, kind, why)
