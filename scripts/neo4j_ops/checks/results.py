"""The vocabulary of a check run, which every check imports: PASS, FAIL or SKIP and why (CheckResult),
the reason a task failed in operator terms, and the CheckReport a run returns. How a report is laid out
for people is overview.py's."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bolt import BoltError
from ..facts import ServerFacts
from ..parallel import Outcome, TaskTimeoutError

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass
class CheckResult:
    name: str
    status: str
    detail: str
    server: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "server": self.server}


@dataclass
class CheckReport:
    rows: list[dict[str, str]]
    results: list[CheckResult]
    seconds: float
    version: str | None = None
    edition: str | None = None
    facts: list[ServerFacts] = field(default_factory=list, repr=False)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "seconds": round(self.seconds, 3), "version": self.version, "edition": self.edition,
                "servers": self.rows, "checks": [r.to_json() for r in self.results]}


def reason(outcome: Outcome) -> str:
    error = outcome.error
    if isinstance(error, BoltError):
        return error.message
    if isinstance(error, TaskTimeoutError):
        return str(error)
    return f"{type(error).__name__}: {error}"
