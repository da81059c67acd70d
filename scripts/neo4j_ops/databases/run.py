"""The databases plan (plan.py) executed: SHOW DATABASES read once, each statement sent in order through `run`
(to `system`, as a write), a CREATE … WAIT's answer checked row by row.

    apply(run, version, wanted, progress, *, enterprise=True, dry_run=False) -> DatabasesResult

wait-options.adoc (5.x and dev): "`WAIT` - Returns once completed or when the default time limit of 300 seconds is
up"; its answer has one row per server with `address`, `state`, `message` and `success`, and a row with `success`
false means the database did not come up there in time: the run stops there (exit 1), nothing more is sent.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from components.databases import DatabaseTopology

from .. import queries as q
from ..scaling.statements import Statement
from ..shared.errors import OperationError
from ..shared.versions import Version
from .plan import plan

Progress = Callable[[str], None]


@dataclass
class DatabasesResult:
    version: str
    dry_run: bool
    statements: list[Statement] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "dryRun": self.dry_run,
                "statements": [s.to_json() for s in self.statements], "unmanaged": self.unmanaged,
                "notes": self.notes}


def apply(run: q.Run, version: Version, wanted: Sequence[DatabaseTopology], progress: Progress, *,
          enterprise: bool = True, dry_run: bool = False) -> DatabasesResult:
    result = DatabasesResult(str(version), dry_run)
    decided = plan(wanted, run(q.SHOW_DATABASES, None), version, enterprise=enterprise)
    result.unmanaged, result.notes = decided.unmanaged, list(decided.notes)
    for note in decided.notes:
        progress(note)
    if decided.statements and not enterprise:
        raise OperationError("Neo4j Community has one standard database: nothing to create (the stack lists "
                             + ", ".join(d.name for d in wanted) + ")")
    for statement in decided.statements:
        result.statements.append(replace(statement, ran=not dry_run))
        if dry_run:
            progress(f"would run: {statement.text()}")
            continue
        progress(f"running: {statement.text()}")
        answers = run(statement.named, statement.params)
        failed = [a for a in answers if a.get("success") is False]
        if failed:
            where = "; ".join(f"{a.get('address')}: {a.get('state')} ({a.get('message')})" for a in failed)
            raise OperationError(f"{statement.cypher}: not done in time on {where}; nothing more was sent (run "
                                 f"the same command again to resume)")
    if result.unmanaged:
        result.notes.append(f"unmanaged (listed by the cluster, not by neo4j:databases; never dropped): "
                            f"{', '.join(result.unmanaged)}")
    if not decided.statements:
        result.notes.append("nothing to do: every database of the stack exists with its topology")
    elif dry_run:
        result.notes.append("dry run: nothing was changed")
    return result


def render_text(result: DatabasesResult) -> str:
    verb = "would run" if result.dry_run else "ran"
    count = len(result.statements)
    lines = [f"databases (Neo4j {result.version}): {verb} {count} statement{'s' if count != 1 else ''}"]
    lines += [f"  {s.text()}" for s in result.statements]
    lines += [f"  . {note}" for note in result.notes]
    return "\n".join(lines)
