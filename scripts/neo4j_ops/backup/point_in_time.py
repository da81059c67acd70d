"""restore.py --until: the value neo4j-admin's `--restore-until` gets, and the backup chain that reaches it (pure).

Operations Manual 5.x and dev, backup-restore/restore-backup.adoc: "Differential backup artifacts contain
transaction logs that can be replayed and applied to stores contained in full backup artifacts when restoring
a backup chain. The database applies logs until the recovery predicate is satisfied." It takes a transaction id
("recovers transaction logs up to, but not including, the transaction 123") or "a UTC date and time"
(`--restore-until="2023-06-29 13:50:45"`: "recovers transactions that were committed before the provided
timestamp"). 4.4 has no such option, and a dump holds one moment: both are refused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ..shared.versions import LINES
from .layout import Backup, choose, parse_time

UNTIL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_TRANSACTION = re.compile(r"^[1-9][0-9]*$")


@dataclass(frozen=True)
class Until:
    text: str  # as neo4j-admin gets it: "2025-03-01 02:30:00" or "123"
    moment: datetime | None  # the UTC time; None for a transaction id

    def __str__(self) -> str:
        return f"{self.text} UTC" if self.moment else f"transaction {self.text} (not included)"


def parse_until(text: str) -> Until:
    """A UTC time "YYYY-MM-DD hh:mm:ss" or a transaction id; ValueError, one line, for anything else."""
    value = text.strip()
    if _TRANSACTION.match(value):
        return Until(value, None)
    if _TIME.match(value):
        try:
            return Until(value, datetime.strptime(value, UNTIL_TIME_FORMAT).replace(tzinfo=UTC))
        except ValueError:
            pass
    raise ValueError(f"{text!r} is neither a UTC time such as \"2025-01-31 02:30:00\" (neo4j-admin's "
                     f"--restore-until takes exactly that form) nor a transaction id such as 123")


def choose_until(backups: list[Backup], until: Until) -> tuple[Backup, str]:
    """The backup to restore (with its chain) so that the replay reaches `until`, and a sentence saying why.

    A time: the newest complete chain whose full backup started at or before it; in it, the first backup taken
    at or after the time (its logs reach it), else its newest. A transaction id: the newest complete chain
    (manifests record no transaction ids). LookupError when no chain covers it; ValueError for a chain of dumps
    or of 4.4 backups (nothing to replay, or no --restore-until)."""
    usable = [b for b in backups if b.restorable]
    if until.moment is None:
        chosen, _ = choose(backups, None)
        _refuse_kind(chosen, until)
        return chosen, (f"newest complete chain (full backup {chosen.chain_start}; manifests record no transaction "
                        f"ids, so a transaction id picks no older chain), replayed until {until}")
    starts = sorted({b.chain_start for b in usable if parse_time(b.chain_start) <= until.moment})
    if not starts:
        oldest = f"the oldest complete backup is {usable[0].timestamp}" if usable else "there is no complete backup"
        raise LookupError(f"no complete backup chain starts at or before {until}: {oldest}")
    members = [b for b in usable if b.chain_start == starts[-1]]
    _refuse_kind(members[0], until)
    reaching = [b for b in members if parse_time(b.timestamp) >= until.moment]
    chosen = reaching[0] if reaching else members[-1]
    why = (f"chain {starts[-1]}, the newest complete one whose full backup started at or before {until}: "
           f"backup {chosen.timestamp} and the {len(chosen.manifest.parents)} before it, replayed until {until}")
    if not reaching:
        why += (f"; its newest complete backup, {chosen.timestamp}, was taken before that time: the restore holds "
                f"what was committed by then, nothing later")
    return chosen, why


def _refuse_kind(backup: Backup, until: Until) -> None:
    m = backup.manifest
    if m.backup_type == "dump":
        raise ValueError(f"--until {until.text}: backup {backup.timestamp} is a dump (Community), which holds one "
                         f"moment and no transaction logs to replay; restore the newest dump before that time with "
                         f"--at instead")
    line = LINES.get(m.version_line)
    if line is None or not line.restores_until:
        raise ValueError(f"--until {until.text}: backup {backup.timestamp} is of Neo4j {m.neo4j_version}, whose "
                         f"neo4j-admin restore has no --restore-until (5.0 and later); restore the newest backup "
                         f"before that time with --at instead")
