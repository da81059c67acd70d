"""One backup run's options and fixed facts, which each of its steps reads (the dump, the online backup, the
check, the upload and the manifest): the options, the S3 client, the run's timestamp, and what the server said
of itself when the run started."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..facts import ServerFacts
from ..shared.versions import VersionLine
from .options import Job

Log = Callable[[str], None]


@dataclass
class BackupOptions(Job):
    offline_ok: bool = False  # community: the server may be stopped for the dump (with `control`)
    source: str | None = None  # enterprise: host:port of the backup listener
    method: str = "auto"  # auto | dump | online
    staging: Path = Path("/var/lib/neo4j/data/backup-staging")  # on the data volume, not the root disk
    local_retention_days: int = 3
    full_every_days: int = 7
    part_size: int | None = None
    concurrency: int = 8
    spool_dir: str | None = None
    min_free: int = 1024 ** 3  # the least free space staging must have before a backup that stages starts
    check: bool = True  # consistency-check the artifact (--no-check: the manifest says skipped)
    via_staging: bool = False  # 5.26, 2025: keep the local chain instead of backing up straight to S3
    kind: str = "auto"  # backup.py --type: auto | full (a new chain) | diff (extends the newest complete chain)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class BackupRun:
    opts: BackupOptions
    s3: Any  # boto3 S3 client
    stamp: str  # the run's UTC timestamp: its prefix in the bucket, its chain directory when it starts one
    started: datetime
    facts: ServerFacts  # version, edition, members and counts before the backup
    version: str
    line: VersionLine

    @property
    def log(self) -> Log:
        return self.opts.log
