"""Local staging retention, done safely (replaces the old `find -mtime +30 -delete`).

The staging directory holds what neo4j-admin writes before it is uploaded (Enterprise online
backups, 4.4 dumps), one chain directory per full backup:

    <staging>/<database>/<chain timestamp>/             artifacts of the chain (full, then differentials)
    <staging>/<database>/<chain timestamp>/manifest-<run timestamp>.json   one per uploaded run

A chain is complete once one of its runs was uploaded: a local manifest copy that parses, names the
run and database it sits under, whose files are in the chain with their recorded sizes, and whose
consistency check did not fail. An empty or unreadable manifest (written on a full disk), or a run whose
check failed, counts for nothing. Chains whose
last change is older than the retention are deleted, except the chain holding the newest complete
backup, which is kept whatever its age; S3's copies are governed by the bucket's lifecycle rules.
Nothing else under the staging directory is touched.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .layout import Manifest, ManifestError, is_timestamp, parse_manifest


@dataclass(frozen=True)
class Chain:
    name: str  # timestamp of its first (full) backup
    last_change: datetime  # newest modification time of anything in it
    runs: tuple[str, ...]  # timestamps of its uploaded runs (local manifest copies)

    @property
    def complete(self) -> bool:
        return bool(self.runs)


@dataclass(frozen=True)
class Decision:
    chain: Chain
    delete: bool
    reason: str


def plan_retention(chains: Iterable[Chain], now: datetime, days: int) -> list[Decision]:
    """Which chains to delete. Pure; oldest first."""
    chains = sorted(chains, key=lambda c: c.name)
    complete = [c for c in chains if c.complete]
    newest = max(complete, key=lambda c: max(c.runs)) if complete else None
    cutoff = now - timedelta(days=days)
    decisions = []
    for chain in chains:
        if chain is newest:
            decisions.append(Decision(chain, False, "holds the newest complete backup: always kept"))
        elif chain.last_change >= cutoff:
            decisions.append(Decision(chain, False, f"changed within {days} days"))
        elif chain.complete:
            decisions.append(Decision(chain, True, f"older than {days} days; a newer complete backup exists"))
        else:
            decisions.append(Decision(chain, True, f"incomplete and older than {days} days"))
    return decisions


def read_chains(database_dir: Path) -> list[Chain]:
    """The chains under <staging>/<database>/ (directories named by a timestamp only)."""
    chains = []
    if not database_dir.is_dir():
        return chains
    for path in sorted(database_dir.iterdir()):
        if not path.is_dir() or path.is_symlink() or not is_timestamp(path.name):
            continue
        mtimes = [path.stat().st_mtime]
        for item in path.rglob("*"):
            try:
                mtimes.append(item.lstat().st_mtime)
            except OSError:
                continue
        runs = tuple(sorted(manifest.timestamp for copy in path.glob("manifest-*.json")
                            if (manifest := verified_manifest(copy, database_dir.name)) is not None
                            and manifest.check != "failed"))
        chains.append(Chain(path.name, datetime.fromtimestamp(max(mtimes)).astimezone(), runs))
    return chains


def verified_run(path: Path, database: str | None = None) -> str | None:
    """The run timestamp of a local manifest copy (see verified_manifest), or None."""
    manifest = verified_manifest(path, database)
    return manifest.timestamp if manifest is not None else None


def verified_manifest(path: Path, database: str | None = None) -> Manifest | None:
    """A local manifest copy, or None unless it parses and matches what is on disk: its timestamp is its
    file name's, its database the directory's, and each file it lists (5.x artifacts, 4.4 dumps; a 4.4
    folder's tar is streamed, not kept) is in the chain with the recorded size."""
    stamp = path.name[len("manifest-"):-len(".json")]
    if not is_timestamp(stamp):
        return None
    try:
        manifest = parse_manifest(path.read_bytes(), expect_timestamp=stamp, expect_database=database)
    except (OSError, ManifestError):
        return None
    if not manifest.is_folder_archive:
        for entry in manifest.files:
            try:
                if (path.parent / entry.name).stat().st_size != entry.size:
                    return None
            except OSError:
                return None
    return manifest


def prune(staging: Path, database: str, days: int, now: datetime, log=print, dry_run: bool = False) -> list[Decision]:
    """Apply plan_retention to <staging>/<database>/; returns the decisions."""
    database_dir = staging / database
    decisions = plan_retention(read_chains(database_dir), now, days)
    for decision in decisions:
        if decision.delete:
            log(f"retention: {'would delete' if dry_run else 'deleting'} {database_dir / decision.chain.name} "
                f"({decision.reason})")
            if not dry_run:
                shutil.rmtree(database_dir / decision.chain.name)
    kept = [d.chain.name for d in decisions if not d.delete]
    log(f"retention: {len(kept)} chain(s) kept in {database_dir}" + (f" (newest {kept[-1]})" if kept else ""))
    return decisions
