"""Room on the local staging directory (the data volume): the store's size on disk, the refusal to start
without room for what a run writes there, and the scratch space a consistency check works in."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ..shared.errors import UsageError
from .admin import AdminTool, own
from .backup_run import BackupRun
from .s3 import human


def check_staging(run: BackupRun, where: Path, *, store_copies: float, what: str) -> None:
    """Refuse to start unless the staging directory has room for what will be written there: about
    `store_copies` times the store's size (a full backup or a dump is one, a differential a tenth, the
    check's scratch copy and extraction one each), and never less than --min-free."""
    opts = run.opts
    store = store_size(opts.admin, opts.database) or 0
    need = max(opts.min_free, int(store * store_copies))
    free = shutil.disk_usage(where).free
    if free < need:
        basis = f"the store of {opts.database!r} here is {human(store)}" if store else \
            f"the floor --min-free is {human(opts.min_free)}"
        raise UsageError(f"staging {where} has {human(free)} free; {what} of {opts.database!r} needs about "
                         f"{human(need)} ({basis}). Nothing was started: free space there, grow the data "
                         f"volume (neo4j:dataVolumeSizeGb), pass another --staging-dir"
                         + (", or --no-check" if opts.check else ""))
    run.log(f"staging {where}: {human(free)} free, {what} needs about {human(need)}")


def scratch_space(run: BackupRun) -> Path:
    """Scratch space for a check, on the data volume beside the chains (not a timestamp: never a chain)."""
    staging = run.opts.staging
    if not staging.is_dir() and not staging.parent.is_dir():
        raise UsageError(f"--staging-dir {staging} does not exist, nor does {staging.parent} (is the data volume "
                         f"mounted?): the consistency check needs scratch space there; pass another "
                         f"--staging-dir, or --no-check")
    scratch = staging / run.opts.database / f"check-{run.stamp}"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    own(scratch, run.opts.owner)
    return scratch


def tree_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def store_size(admin: AdminTool, database: str) -> int | None:
    """Bytes of the store and its transaction logs on disk: the dump is at most about this large."""
    conf_dir = admin.conf or (admin.home / "conf" if admin.home else None)
    data = admin.home / "data" if admin.home else None
    if conf_dir is not None:
        with contextlib.suppress(OSError):
            for raw in (conf_dir / "neo4j.conf").read_text().splitlines():
                key, _, value = raw.strip().partition("=")
                if key.strip() in ("server.directories.data", "dbms.directories.data") and value.strip():
                    candidate = Path(value.strip())
                    if candidate.is_absolute() or admin.home:
                        data = candidate if candidate.is_absolute() else admin.home / candidate
    if data is None:
        return None
    size = tree_size(data / "databases" / database) + tree_size(data / "transactions" / database)
    return size or None

