"""Local staging chains (online backups that stage: 5.x, 4.4, 2025 --via-staging): the chain directory a run
adds to, or a new one (and so a full backup), from the runs already uploaded from it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from .admin import fresh_dir
from .backup_run import BackupRun
from .layout import Manifest, ManifestError, is_timestamp, parse_manifest
from .retention import verified_run


def new_chain(run: BackupRun) -> Path:
    return fresh_dir(run.opts.staging / run.opts.database / run.stamp, run.opts.owner, under=run.opts.staging)


def current_chain(run: BackupRun) -> tuple[Path, list[Manifest]]:
    """The chain directory this run adds to, and the uploaded runs already in it; a new chain (and a full
    backup) when there is none, or it is damaged, failed a check, or is older than --full-every-days."""
    opts = run.opts
    root = opts.staging / opts.database
    chains = sorted(p for p in root.iterdir() if p.is_dir() and is_timestamp(p.name)) if root.is_dir() else []
    if chains:
        current = chains[-1]
        copies = sorted(current.glob("manifest-*.json"))
        runs = local_manifests(current)
        recorded = {f.name for m in runs for f in m.files}
        unrecorded = [p.name for p in current.glob("*.backup") if p.name not in recorded]
        age = run.started - datetime.strptime(current.name, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        failed = [m.timestamp for m in runs if m.check == "failed"]
        if not run.line.backs_up_to_artifacts:
            unrecorded = []  # the 4.4 folder is updated in place; every run uploads all of it
        if not runs:
            run.log(f"chain {current.name} has no uploaded run: starting a new chain with a full backup")
        elif len(runs) != len(copies):
            run.log(f"chain {current.name} is damaged ({len(copies) - len(runs)} of its runs no longer match "
                    f"their files): starting a new chain with a full backup")
        elif unrecorded:
            run.log(f"chain {current.name} holds artifact(s) never uploaded ({', '.join(unrecorded)}): "
                    f"starting a new chain with a full backup")
        elif failed:
            run.log(f"chain {current.name} holds backup {failed[-1]}, which failed its consistency check: "
                    f"starting a new chain with a full backup")
        elif age > timedelta(days=opts.full_every_days):
            run.log(f"chain {current.name} is {age.days} days old (--full-every-days "
                    f"{opts.full_every_days}): starting a new chain with a full backup")
        else:
            run.log(f"adding to chain {current.name} ({len(runs)} uploaded run(s))")
            return current, runs
    return new_chain(run), []


def local_manifests(chain: Path) -> list[Manifest]:
    runs = []
    for path in sorted(chain.glob("manifest-*.json")):
        if verified_run(path) is None:
            continue
        try:
            runs.append(parse_manifest(path.read_bytes()))
        except (OSError, ManifestError):
            continue
    return runs

