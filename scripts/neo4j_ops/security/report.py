"""What a security run did (pure): the changes, what was already as configured, what is not managed here,
the errors; and the text a person reads."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Change:
    kind: str  # create-role, grant-privilege, revoke-privilege, create-user, set-password, activate-user,
    #            password-change-not-required, grant-role, revoke-role
    target: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target, "detail": self.detail}


@dataclass
class SecurityReport:
    """Filled in as the run goes (apply.py appends to it), hence not frozen."""
    uri: str
    edition: str | None
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "uri": self.uri, "edition": self.edition, "dryRun": self.dry_run,
                "changes": [c.to_json() for c in self.changes], "unchanged": self.unchanged,
                "unmanaged": self.unmanaged, "errors": self.errors}


def render_text(report: SecurityReport) -> str:
    verb = "would apply" if report.dry_run else "applied"
    count = len(report.changes)
    lines = [f"security: {verb} {count} change{'s' if count != 1 else ''} on {report.uri} "
             f"({report.edition or 'unknown'} edition)"]
    lines += [f"  + {change.detail}" for change in report.changes]
    lines += [f"  = unchanged: {item}" for item in report.unchanged]
    lines += [f"  . not managed here: {item}" for item in report.unmanaged]
    lines += [f"  ! {error}" for error in report.errors]
    if report.dry_run:
        lines.append("dry run: nothing was changed (a temporary role was created and dropped to compare "
                     "privileges)")
    return "\n".join(lines)
