"""Local staging retention, done safely (replaces the old `find -mtime +30 -delete`).

The staging directory holds what neo4j-admin writes before it is uploaded (Enterprise online
backups, 4.4 dumps), one chain directory per full backup:

    <staging>/<database>/<chain timestamp>/             artifacts of the chain (full, then differentials)
    <staging>/<database>/<chain timestamp>/manifest-<run timestamp>.json   one per uploaded run

A chain is complete once one of its runs was uploaded (a local manifest copy exists). Chains whose
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

from .layout import is_timestamp


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
        runs = tuple(sorted(p.name[len("manifest-"):-len(".json")] for p in path.glob("manifest-*.json")
                            if is_timestamp(p.name[len("manifest-"):-len(".json")])))
        chains.append(Chain(path.name, datetime.fromtimestamp(max(mtimes)).astimezone(), runs))
    return chains


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
