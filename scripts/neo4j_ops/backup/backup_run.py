"""One backup run's fixed facts, which each of its steps reads (the dump, the online backup, the check, the
upload and the manifest): the options, the S3 client, the run's timestamp, and what the server said of itself
when the run started."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..facts import ServerFacts
from ..shared.versions import VersionLine

if TYPE_CHECKING:  # make_backup imports the steps, which take this
    from .make_backup import BackupOptions

Log = Callable[[str], None]


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
