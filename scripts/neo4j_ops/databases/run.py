"""The databases plan (plan.py) executed: SHOW DATABASES read once, each statement sent in order through `run`
(to `system`, as a write), a CREATE … WAIT's answer checked row by row.

    apply(run, version, wanted, progress, *, enterprise=True, dry_run=False) -> DatabasesResult

wait-options.adoc (5.x and dev): "`WAIT` - Returns once completed or when the default time limit of 300 seconds is
up"; its answer has one row per server with `address`, `state`, `message` and `success`, and a row with `success`
false means the database did not come up there in time: the run stops there (exit 1), nothing more is sent.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from components.databases import CompositeSpec, DatabaseTopology

from .. import queries as q
from ..scaling.statements import Statement
from ..shared.errors import OperationError, UsageError
from ..shared.versions import Version
from .composites import missing_passwords, plan_composites
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
          enterprise: bool = True, dry_run: bool = False, composites: Sequence[CompositeSpec] = (),
          passwords: Mapping[str, str] | None = None, rotate_passwords: bool = False) -> DatabasesResult:
    """The standard databases first (a local alias's target must exist), then each composite and its aliases."""
    result = DatabasesResult(str(version), dry_run)
    passwords = dict(passwords or {})
    without = missing_passwords(composites, passwords)
    if without and not dry_run:
        raise UsageError(f"no password for the remote alias{'es' if len(without) > 1 else ''} {', '.join(without)}: "
                         f"set them in the stack secret neo4j:aliasPasswords and export it as NEO4J_ALIAS_PASSWORDS; "
                         f"nothing was sent")
    rows = run(q.SHOW_DATABASES, None)
    decided = plan(wanted, rows, version, enterprise=enterprise)
    result.unmanaged, result.notes = decided.unmanaged, list(decided.notes)
    statements = list(decided.statements)
    if decided.statements and not enterprise:
        raise OperationError("Neo4j Community has one standard database: nothing to create (the stack lists "
                             + ", ".join(d.name for d in wanted) + ")")
    if composites:
        line = version.line
        if not enterprise or line is None or not line.allocates_databases:
            raise OperationError(f"Neo4j {version} {'Enterprise' if enterprise else 'Community'}: composite "
                                 f"databases need 5.x or 2025 Enterprise; nothing was sent")
        if without:
            result.notes.append(f"no password yet for {', '.join(without)} (a real run refuses to start without it)")
        shown = {**{name: "" for name in without}, **passwords}
        federated = plan_composites(composites, rows, run(q.SHOW_ALIAS_TARGETS, None), shown,
                                    rotate_passwords=rotate_passwords)
        statements += federated.statements
        result.unmanaged += federated.unmanaged
        result.notes += federated.notes
    for note in result.notes:
        progress(note)
    for statement in statements:
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
        result.notes.append(f"unmanaged (listed by the cluster, not by neo4j:databases or neo4j:composites; never "
                            f"dropped): "
                            f"{', '.join(result.unmanaged)}")
    if not statements:
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
