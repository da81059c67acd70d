"""The engine's own output in the test log (issue 22: "the log shows the engine's own preview output"), also from
pytest-xdist workers, whose standard error the controller never prints: each engine test's lines
(tests/support/engine/stack.py engine_output) ride on its teardown report (tests/engine/conftest.py) and the
controller prints them in a section of the summary, test by test."""
from __future__ import annotations

KEY = "engine_output"
_SEEN: list[tuple[str, list[str]]] = []


def pytest_runtest_logreport(report) -> None:
    if report.when != "teardown":  # the lines are attached at teardown (the setup and call reports left before)
        return
    for key, value in getattr(report, "user_properties", ()):
        if key == KEY and value:
            _SEEN.append((report.nodeid, list(value)))


def pytest_terminal_summary(terminalreporter) -> None:
    if not _SEEN or getattr(terminalreporter.config, "workerinput", None) is not None:
        return
    terminalreporter.section("engine output (the real Pulumi engine's own, by test)")
    for nodeid, lines in _SEEN:
        terminalreporter.write_line(f"--- {nodeid}")
        for line in lines:
            terminalreporter.write_line(f"engine| {line}")
