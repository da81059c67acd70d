"""The two kinds of failure the scripts report, mapped to exit codes by cli.run."""
from __future__ import annotations


class UsageError(Exception):
    """Bad options or configuration, found before any work: exit 2."""


class BackupError(Exception):
    """The backup or restore failed while doing its work: exit 1."""


class InterruptedRunError(BackupError):
    """SIGTERM or Ctrl-C: clean-up ran (multipart upload aborted, server started again)."""
