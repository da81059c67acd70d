"""How `make test` hands modules to its pytest-xdist workers (issue 19, item 6: the warm suite's
wall time). `--dist loadscope` keeps a module's tests on one worker (its servers stay shared); it queues modules
by their number of tests, so a slow module of few tests (a machine boot, an upgrade) starts last and the other
workers idle while it runs: here modules are queued by their measured seconds, longest first (a longest-first
schedule), from MODULE_SECONDS; a module not listed counts as UNLISTED_SECONDS. (The boot rehearsal is one module:
its private dockerd's image cache has one lock, tests/support/rehearsal/dockerd.py.) The fast tests run a module per
worker too, with no module listed: queued longest first, their plan-heavy modules ran at once and the run took 126 s
against 108 s in loadscope's own order (measured twice each, 2026-12-07).

A scheduling hint only: what runs, and whether it passes, is the same in any order.
"""
from __future__ import annotations

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


class LongestModulesFirst(LoadScopeScheduling):
    """--dist loadscope with modules queued longest first."""

    _ordered = False

    def _assign_work_unit(self, node) -> None:
        # The first assignment comes after LoadScopeScheduling.schedule filled its queue: order it once (a stable
        # sort: equal costs keep the queue's order). Workers run the indexes of their own collection, which this
        # leaves alone.
        if not self._ordered:
            queued = sorted(self.workqueue.items(), key=lambda unit: -module_seconds(unit[0]))
            self.workqueue.clear()
            self.workqueue.update(queued)
            self._ordered = True
        super()._assign_work_unit(node)
