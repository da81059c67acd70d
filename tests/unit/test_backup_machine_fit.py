"""The backup job's neo4j-admin budget on a machine smaller than the one it was sized for
(scripts/neo4j_ops/backup/machine_fit.py): the tooling archive follows neo4j:coreInstanceType at `pulumi up`, the
instance keeps its old type until `make rollout`, so a larger type's budget must not run on the old machine."""
from __future__ import annotations

import re
from itertools import pairwise

import pytest

from components.aws.user_data import render_backup_job
from components.instance_types import INSTANCE_TYPES
from components.settings import ConfigError
from components.sizing import GIB, MIB, admin_budget, machine_memory, plan_memory
from components.topology import plan_topology
from scripts.neo4j_ops.backup import commands, machine_fit
from scripts.neo4j_ops.backup.admin import MemoryBounds
from scripts.neo4j_ops.backup.machine_fit import SAME_MACHINE_SHARE, fit, mem_total
from scripts.neo4j_ops.shared.admin_memory import ADMIN_HEAP_FLOOR, ADMIN_OFF_HEAP_FLOOR
from tests.conftest import make_settings

# Made-up /proc/meminfo texts (the kernel's layout, MemTotal in KiB written "kB"; not read from an instance): a
# 64 GiB machine whose kernel keeps 2% of it, and a 32 GiB one likewise.
SIZED_FOR_64G = "MemTotal:       65792560 kB\nMemFree:        63121416 kB\nMemAvailable:   63876704 kB\n"
SMALLER_32G = "MemTotal:       32555920 kB\nMemFree:        30110040 kB\n"
BUDGET = MemoryBounds("3g", "2944m", 4)  # prod's core-1, r6i.2xlarge (tests/unit/test_backup_memory_bounds.py)
FLOORS = MemoryBounds(f"{ADMIN_HEAP_FLOOR // MIB}m", f"{ADMIN_OFF_HEAP_FLOOR // MIB}m", 2)


def test_mem_total_reads_the_kernels_kib():
    assert mem_total(SIZED_FOR_64G) == 65792560 * 1024
    assert mem_total("MemFree: 1 kB\n") is None
    assert machine_fit.read_mem_total() > 0  # this machine's own /proc/meminfo


def test_on_the_machine_it_was_sized_for_the_budget_is_kept():
    fitted = fit(BUDGET, 64 * GIB, mem_total(SIZED_FOR_64G), cpus=8)
    assert (fitted.bounds, fitted.smaller, fitted.note) == (BUDGET, False, None)


def test_without_a_size_to_compare_with_the_budget_is_kept():
    assert fit(BUDGET, None, mem_total(SMALLER_32G), cpus=4).bounds == BUDGET
    assert fit(BUDGET, 64 * GIB, None, cpus=4).bounds == BUDGET


def test_on_a_smaller_machine_every_neo4j_admin_gets_the_floors_and_the_log_says_why():
    fitted = fit(BUDGET, 64 * GIB, mem_total(SMALLER_32G), cpus=4)
    assert fitted.smaller and fitted.bounds == FLOORS  # threads: half of this machine's 4 CPUs
    assert "31792 MiB of memory (MemTotal), less than the 65536 MiB" in fitted.note
    assert "keeps its old type until `make rollout`" in fitted.note and "heap 256m, off-heap 128m" in fitted.note


def test_the_floors_fit_every_machine_the_settings_accept_for_the_backup_host():
    # The fallback is safe only if the old machine, a type the stack was accepted with, leaves room for the floors:
    # the settings must refuse every core type and heap/page cache whose budget misses one (today the memory check,
    # which keeps the OS reserve, already does; _backup_job_fits backs it up).
    # Each type as sized by default, and with heap and page cache overridden to leave 0.5, 1 or 2 GiB beside them.
    accepted = 0
    for name, instance in INSTANCE_TYPES.items():
        ram = machine_memory("aws", name, 0)
        for left in (None, GIB // 2, GIB, 2 * GIB):
            half = None if left is None or ram <= left else (ram - left) // 2 // MIB * MIB
            overrides = {} if half is None else {"heapSize": f"{half // MIB}m", "pageCacheSize": f"{half // MIB}m"}
            if left is not None and half is None:
                continue
            try:
                make_settings(coreInstanceType=name, **overrides)
            except ConfigError:
                continue
            accepted += 1
            plan = plan_memory(ram, heap_override=half, page_cache_override=half)
            budget = admin_budget(plan, instance.vcpus)
            assert budget.heap >= ADMIN_HEAP_FLOOR and budget.off_heap >= ADMIN_OFF_HEAP_FLOOR, (name, left)
    assert accepted > 10


def test_the_share_tells_every_instance_size_from_the_next_smaller_one():
    sizes = sorted({instance.memory_gib for instance in INSTANCE_TYPES.values()})
    assert max(smaller / larger for smaller, larger in pairwise(sizes)) < SAME_MACHINE_SHARE
    # and a machine of the size it was sized for passes (the made-up MemTotal above: 98% of 64 GiB)
    assert mem_total(SIZED_FOR_64G) / (64 * GIB) > SAME_MACHINE_SHARE


def test_the_rendered_job_passes_the_memory_its_budget_is_for():
    settings = make_settings(coreInstanceType="r6i.xlarge")
    script = render_backup_job(settings, plan_topology(settings))["backup/neo4j-backup.sh"]
    assert re.search(r"^\s+--admin-sized-for 32g$", script, re.M)


@pytest.fixture
def drill_job(monkeypatch, tmp_path):
    """restore.py --verify-only as the job runs it, up to the drill: the options it builds."""
    seen = []
    monkeypatch.setattr(commands, "drill", lambda job: seen.append(job) or {})  # the report is not looked at
    monkeypatch.setenv("NEO4J_PASSWORD", "secret-1")

    def run(memory: str) -> list:
        monkeypatch.setattr(machine_fit, "read_mem_total", lambda: mem_total(memory))
        commands.restore_main(["--bucket", "b", "--stack", "prod", "--latest", "--verify-only", "--quiet",
                               "--work-dir", str(tmp_path), "--admin-heap", "3g", "--admin-off-heap", "2944m",
                               "--check-threads", "4", "--admin-sized-for", "64g", "--scratch-heap", "3g",
                               "--scratch-page-cache", "2944m"])
        [job] = seen
        seen.clear()
        return job
    return run


def test_the_restore_drill_keeps_its_budget_on_the_machine_it_was_sized_for(drill_job):
    job = drill_job(SIZED_FOR_64G)
    assert job.admin.bounds == BUDGET and (job.scratch_heap, job.scratch_page_cache) == ("3g", "2944m")


def test_the_restore_drill_and_its_server_take_the_floors_on_a_smaller_machine(drill_job, monkeypatch):
    monkeypatch.setattr(machine_fit.os, "cpu_count", lambda: 4)
    job = drill_job(SMALLER_32G)
    assert job.admin.bounds == FLOORS and (job.scratch_heap, job.scratch_page_cache) == ("256m", "128m")
