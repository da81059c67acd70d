"""How `make test` hands integration modules to its two pytest-xdist workers (issue 19, item 6: the warm suite's
wall time). `--dist loadscope` keeps a module's tests on one worker (its servers stay shared); two things about
its defaults cost minutes here, measured by tests/support/suite_timing.py:

- it queues modules by their number of tests, so a slow module of few tests (a machine boot, an upgrade) starts
  last and the other worker idles while it runs: here modules are queued by their measured seconds, longest
  first (a longest-first schedule), from MODULE_SECONDS; a module not listed counts as UNLISTED_SECONDS;
- the boot rehearsal's modules take one private dockerd at a time (its image cache has one lock,
  tests/support/rehearsal/dockerd.py): on two workers one of them would wait out the other's whole module, so
  they form one unit, run one after the other on one worker.

A scheduling hint only: what runs, and whether it passes, is the same in any order.
"""
from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

# Seconds per module (setup + call + teardown; suite_timing's report), rounded: the 15 slowest of a clean-clone CI's
# integration run on three workers, 2026-12-06 (warm caches, idle machine). Only their order matters here.
MODULE_SECONDS: dict[str, float] = {
    "tests/integration/test_rehearsal_machine.py": 440,
    "tests/integration/test_rehearsal_haproxy.py": 160,
    "tests/integration/backup/test_backup_lines.py": 335,
    "tests/integration/test_upgrade_real_neo4j.py": 210,
    "tests/integration/backup/test_backup_restore.py": 160,
    "tests/integration/backup/test_backup_faults.py": 115,
    "tests/integration/test_lines_real_neo4j.py": 100,
    "tests/integration/test_readme_blocks.py": 85,
    "tests/integration/test_extra_config_real_neo4j.py": 65,
    "tests/integration/backup/test_backup_endpoint.py": 65,
    "tests/integration/test_first_deploy_real_neo4j.py": 65,
    "tests/integration/test_load_csv_blocklist_real_neo4j.py": 60,
    "tests/integration/test_plugins_real_neo4j.py": 55,
    "tests/integration/test_artifacts_real_tools.py": 50,
    "tests/integration/test_sizing_matches_neo4j_admin.py": 50,
}
UNLISTED_SECONDS = 10.0

# Modules that must run on one worker, one after the other: unit name -> modules.
SAME_WORKER: dict[str, tuple[str, ...]] = {
    "boot rehearsal (one private dockerd at a time)": (
        "tests/integration/test_rehearsal_machine.py",
        "tests/integration/test_rehearsal_haproxy.py",
    ),
}
_UNIT_OF = {module: unit for unit, modules in SAME_WORKER.items() for module in modules}


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def unit_of(nodeid: str) -> str:
    module = module_of(nodeid)
    return _UNIT_OF.get(module, module)


def unit_seconds(unit: str) -> float:
    modules = SAME_WORKER.get(unit, (unit,))
    return sum(MODULE_SECONDS.get(module, UNLISTED_SECONDS) for module in modules)


class LongestModulesFirst(LoadScopeScheduling):
    """--dist loadscope with units (a module, or the modules of one SAME_WORKER entry) queued longest first."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    _ordered = False

    def _assign_work_unit(self, node) -> None:
        # The first assignment comes after LoadScopeScheduling.schedule filled its queue: order it once (a stable
        # sort: equal costs keep the queue's order). Workers run the indexes of their own collection, which this
        # leaves alone.
        if not self._ordered:
            queued = sorted(self.workqueue.items(), key=lambda unit: -unit_seconds(unit[0]))
            self.workqueue.clear()
            self.workqueue.update(queued)
            self._ordered = True
        super()._assign_work_unit(node)
