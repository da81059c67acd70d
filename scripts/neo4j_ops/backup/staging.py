"""Room on the local staging directory (the data volume): the store's size on disk, the refusal to start
without room for what a run writes there, and the scratch space a consistency check works in."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ..shared.errors import UsageError
from .admin import AdminTool, fresh_dir
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
    if scratch.is_symlink() or scratch.is_file():
        scratch.unlink()  # removes the link itself, never its target
    elif scratch.exists():
        shutil.rmtree(scratch)  # refuses a link swapped in meanwhile; never follows one inside
    return fresh_dir(scratch, run.opts.owner, under=staging)


def tree_size(path: Path, *, written: bool = False) -> int:
    """Bytes of the files under `path`; `written`: without the zero-filled tails (`written_bytes`)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                file = os.path.join(root, name)
                total += written_bytes(file) if written else os.lstat(file).st_size
    return total


def written_bytes(path: str | Path, chunk: int = 1024 * 1024) -> int:
    """The file's size without its zero-filled tail: Neo4j pre-allocates each transaction log (256 MiB by
    default) and fills it as transactions come, so its size on disk says nothing of what it holds, nor of
    what a dump of it holds (the dump compresses the zeros away)."""
    with open(path, "rb") as file:
        end = file.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - chunk)
            file.seek(start)
            kept = file.read(end - start).rstrip(b"\0")
            if kept:
                return start + len(kept)
            end = start
    return 0


def store_dirs(admin: AdminTool, database: str) -> tuple[Path, Path] | None:
    """The store and transaction log directories of `database` (from neo4j.conf's data directory), or None when
    neither --neo4j-home nor --neo4j-conf says where they are."""
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
    return data / "databases" / database, data / "transactions" / database


def store_size(admin: AdminTool, database: str) -> int | None:
    """Bytes a dump or backup of the store holds at most: its store files and what its transaction logs hold
    (not their pre-allocated zeros). None when the store is not found or empty."""
    dirs = store_dirs(admin, database)
    if dirs is None:
        return None
    size = tree_size(dirs[0]) + tree_size(dirs[1], written=True)
    return size or None
