"""The backup job's neo4j-admin budget on a machine smaller than the one it was sized for
(scripts/neo4j_ops/backup/machine_fit.py): the tooling archive follows neo4j:coreInstanceType at `pulumi up`, the
instance keeps its old type until `make rollout`, so a larger type's budget must not run on the old machine."""
from __future__ import annotations

import re
from itertools import pairwise

import pytest

from components.aws.user_data import render_backup_job
from components.instance_types import INSTANCE_TYPES
from components.sizing import GIB, MIB, admin_budget, machine_memory, plan_memory
from components.topology import plan_topology
from scripts.neo4j_ops.backup import commands, machine_fit
from scripts.neo4j_ops.backup.admin import MemoryBounds
from scripts.neo4j_ops.backup.machine_fit import SAME_MACHINE_SHARE, fit, mem_total
from scripts.neo4j_ops.shared.admin_memory import ADMIN_HEAP_FLOOR, ADMIN_OFF_HEAP_FLOOR
from tests.conftest import make_settings

# A 64 GiB r6i.2xlarge's /proc/meminfo begins so: the kernel keeps ~2% (MemTotal in KiB, written "kB").
R6I_2XLARGE = "MemTotal:       65792560 kB\nMemFree:        63121416 kB\nMemAvailable:   63876704 kB\n"
R6I_XLARGE = "MemTotal:       32555920 kB\nMemFree:        30110040 kB\n"
BUDGET = MemoryBounds("3g", "2944m", 4)  # prod's core-1, r6i.2xlarge (tests/unit/test_backup_memory_bounds.py)
FLOORS = MemoryBounds(f"{ADMIN_HEAP_FLOOR // MIB}m", f"{ADMIN_OFF_HEAP_FLOOR // MIB}m", 2)


def test_mem_total_reads_the_kernels_kib():
    assert mem_total(R6I_2XLARGE) == 65792560 * 1024
    assert mem_total("MemFree: 1 kB\n") is None
    assert machine_fit.read_mem_total() > 0  # this machine's own /proc/meminfo


def test_on_the_machine_it_was_sized_for_the_budget_is_kept():
    fitted = fit(BUDGET, 64 * GIB, mem_total(R6I_2XLARGE), cpus=8)
    assert (fitted.bounds, fitted.smaller, fitted.note) == (BUDGET, False, None)


def test_without_a_size_to_compare_with_the_budget_is_kept():
    assert fit(BUDGET, None, mem_total(R6I_XLARGE), cpus=4).bounds == BUDGET
    assert fit(BUDGET, 64 * GIB, None, cpus=4).bounds == BUDGET


def test_on_a_smaller_machine_every_neo4j_admin_gets_the_floors_and_the_log_says_why():
    fitted = fit(BUDGET, 64 * GIB, mem_total(R6I_XLARGE), cpus=4)
    assert fitted.smaller and fitted.bounds == FLOORS  # threads: half of this machine's 4 CPUs
    assert "31792 MiB of memory (MemTotal), less than the 65536 MiB" in fitted.note
    assert "keeps its old type until `make rollout`" in fitted.note and "heap 256m, off-heap 128m" in fitted.note


def test_the_floors_fit_every_machine_the_settings_accept_for_the_backup_host():
    # settings.py _backup_job_fits refuses a core-1 plan whose budget misses a floor, so a type the stack ran on
    # leaves at least the floors: the old machine can give them.
    for name, instance in INSTANCE_TYPES.items():
        budget = admin_budget(plan_memory(machine_memory("aws", name, 0)), instance.vcpus)
        if budget.fits:
            assert budget.heap >= ADMIN_HEAP_FLOOR and budget.off_heap >= ADMIN_OFF_HEAP_FLOOR, name


def test_the_share_tells_every_instance_size_from_the_next_smaller_one():
    sizes = sorted({instance.memory_gib for instance in INSTANCE_TYPES.values()})
    assert max(smaller / larger for smaller, larger in pairwise(sizes)) < SAME_MACHINE_SHARE
    # and the machine it was sized for passes: MemTotal of the 64 GiB type above is 98% of it
    assert mem_total(R6I_2XLARGE) / (64 * GIB) > SAME_MACHINE_SHARE


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
    job = drill_job(R6I_2XLARGE)
    assert job.admin.bounds == BUDGET and (job.scratch_heap, job.scratch_page_cache) == ("3g", "2944m")


def test_the_restore_drill_and_its_server_take_the_floors_on_a_smaller_machine(drill_job, monkeypatch):
    monkeypatch.setattr(machine_fit.os, "cpu_count", lambda: 4)
    job = drill_job(R6I_XLARGE)
    assert job.admin.bounds == FLOORS and (job.scratch_heap, job.scratch_page_cache) == ("256m", "128m")
