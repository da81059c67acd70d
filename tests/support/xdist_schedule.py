"""How `make test` hands modules to its pytest-xdist workers (issue 19, item 6: the warm suite's
wall time). `--dist loadscope` keeps a module's tests on one worker (its servers stay shared); it queues modules
by their number of tests, so a slow module of few tests (a machine boot, an upgrade) starts last and the other
workers idle while it runs: here modules are queued by their measured seconds, longest first (a longest-first
schedule), from MODULE_SECONDS; a module not listed counts as UNLISTED_SECONDS. (The boot rehearsal is one module:
its private dockerd's image cache has one lock, tests/support/rehearsal/dockerd.py.) The fast tests run a module per
worker too, with no module listed: queued longest first, their plan-heavy modules ran at once and the run took 126 s
against 108 s in loadscope's own order (measured twice each, 2026-12-07).

The modules that use the session's Neo4j servers (tests/integration/conftest.py: `neo4j_server`, `line_server`) go
to one worker, the first that takes one: every worker that runs such a module starts its own server of each line
and keeps it, idle, to the end of its run (each start ~7 CPU s, each idle server ~1.2% of a CPU). That worker takes
them before anything else; another worker takes one only when nothing else is left (a server start of its own, not
an idle worker). Measured 2026-12-07 on an idle clone (one run each, within the runs' noise): the integration
part took 931 s against 951 s; in a later run (with the auth.ini cache too: 853 s) the chosen worker ran 12 of
the 14 such modules, another the last 2.

A scheduling hint only: what runs, and whether it passes, is the same in any order.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

# Seconds per module (setup + call + teardown; suite_timing's report), rounded: the 15 slowest of a clean-clone CI's
# integration run on three workers, 2026-12-07 (CI 14: warm caches, idle machine). Only their order matters here.
MODULE_SECONDS: dict[str, float] = {
    "tests/integration/test_rehearsal_machine.py": 520,
    "tests/integration/backup/test_backup_lines.py": 425,
    "tests/integration/test_upgrade_real_neo4j.py": 210,
    "tests/integration/backup/test_backup_restore.py": 180,
    "tests/integration/backup/test_backup_faults.py": 145,
    "tests/integration/test_readme_blocks.py": 105,
    "tests/integration/test_lines_real_neo4j.py": 90,
    "tests/integration/test_artifacts_real_tools.py": 80,
    "tests/integration/test_plugins_real_neo4j.py": 80,
    "tests/integration/test_sizing_matches_neo4j_admin.py": 80,
    "tests/integration/test_first_deploy_real_neo4j.py": 80,
    "tests/integration/test_load_csv_blocklist_real_neo4j.py": 65,  # 95 before it used the session's servers
    "tests/integration/backup/test_backup_endpoint.py": 65,
    "tests/integration/test_admin_auth_real_neo4j.py": 60,
    "tests/integration/test_extra_config_real_neo4j.py": 60,
}
UNLISTED_SECONDS = 10.0


def module_seconds(module: str) -> float:
    return MODULE_SECONDS.get(module, UNLISTED_SECONDS)


SESSION_SERVER_FIXTURES = frozenset({"neo4j_server", "line_server"})
ROOT = Path(__file__).resolve().parents[2]


def module_of(scope: str) -> str:
    """The module of a loadscope scope (`path.py` or `path.py::Class`)."""
    return scope.split("::", 1)[0]


@functools.cache
def uses_session_servers(module: str) -> bool:
    """Whether the module (a path under the project) asks for a session server: a function of it takes one as a
    parameter, names one in `usefixtures` or asks `getfixturevalue` for it. Read from its source: xdist's
    controller sees test ids, not fixtures (tests/unit/test_xdist_schedule.py holds this to pytest's own fixture
    closures)."""
    try:
        tree = ast.parse((ROOT / module).read_text())
    except (OSError, SyntaxError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parameters = (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
            if {parameter.arg for parameter in parameters} & SESSION_SERVER_FIXTURES:
                return True
        elif isinstance(node, ast.Call) and any(
                isinstance(a, ast.Constant) and a.value in SESSION_SERVER_FIXTURES for a in node.args):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("getfixturevalue", "usefixtures"):
                return True
    return False


class LongestModulesFirst(LoadScopeScheduling):
    """--dist loadscope with modules queued longest first, the session servers' modules on one worker."""

    _ordered = False
    _server_worker = None  # the worker that took the first module using the session servers

    def _assign_work_unit(self, node) -> None:
        # The first assignment comes after LoadScopeScheduling.schedule filled its queue: order it once (a stable
        # sort: equal costs keep the queue's order). Workers run the indexes of their own collection, which this
        # leaves alone.
        if not self._ordered:
            queued = sorted(self.workqueue.items(), key=lambda unit: -module_seconds(unit[0]))
            self.workqueue.clear()
            self.workqueue.update(queued)
            self._ordered = True
        scope = self._next_scope(node)
        if uses_session_servers(module_of(scope)) and self._server_worker is None:
            self._server_worker = node
        self.workqueue.move_to_end(scope, last=False)  # LoadScopeScheduling assigns the queue's first
        super()._assign_work_unit(node)

    def _next_scope(self, node) -> str:
        queued = list(self.workqueue)
        serving = [scope for scope in queued if uses_session_servers(module_of(scope))]
        if self._server_worker is None:
            return queued[0]
        if node is self._server_worker:
            return (serving or queued)[0]
        others = [scope for scope in queued if scope not in serving]
        return (others or serving)[0]
