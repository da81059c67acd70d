"""neo4j-admin's memory budget against the machine it runs on.

The backup job's budget (--admin-heap, --admin-off-heap, --check-threads; components/sizing.py admin_budget) comes
from the tooling archive, which follows neo4j:coreInstanceType as soon as `pulumi up` runs, while the server's
instance keeps its old type, and its Neo4j the heap and page cache sized for it, until `make rollout` releases it
(components/aws/machine.py HELD_BACK_ON_SERVERS). Between the two, a larger type's budget would run on the smaller
machine, beside a Neo4j that already takes what that machine can give: the kernel's OOM killer could end the
primary's Neo4j. So the job also passes the RAM its budget was sized for (--admin-sized-for); on a machine whose
MemTotal is below SAME_MACHINE_SHARE of it, every neo4j-admin run and the restore drill's server get the floors
instead (scripts/neo4j_ops/shared/admin_memory.py), which any type the settings accepted for the backup host
leaves room for (the settings' memory checks; tests/unit/test_backup_machine_fit.py). Slower, never a risk; the
log says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..shared.admin_memory import ADMIN_HEAP_FLOOR, ADMIN_OFF_HEAP_FLOOR, MIB
from .admin import MemoryBounds

# MemTotal is the machine's RAM less what the kernel keeps for itself (assumed a few per cent: not measured on an
# instance here; a kernel that kept more than 15% would only make the job use the floors on its own machine, slower
# but safe). The nearest sizes of components/instance_types.py differ by 0.75 (384 and 512 GiB) or less, so a
# smaller type is always below this.
SAME_MACHINE_SHARE = 0.85
MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class MachineFit:
    bounds: MemoryBounds
    smaller: bool  # the machine has less memory than the budget was sized for: `bounds` are the floors
    note: str | None = None  # what the log says when it is


def mem_total(meminfo: str) -> int | None:
    """MemTotal of /proc/meminfo's text, in bytes (the kernel writes it in kB: KiB)."""
    for line in meminfo.splitlines():
        name, _, value = line.partition(":")
        if name == "MemTotal":
            number, *unit = value.split()
            if number.isdigit() and unit in (["kB"], []):
                return int(number) * (1024 if unit else 1)
    return None


def read_mem_total(path: Path = MEMINFO) -> int | None:
    try:
        return mem_total(path.read_text())
    except OSError:
        return None


def fit(bounds: MemoryBounds, sized_for: int | None, total: int | None, cpus: int | None) -> MachineFit:
    """`bounds` as given, or the floors where the machine is smaller than `sized_for` (bytes of RAM)."""
    if sized_for is None or total is None or total >= SAME_MACHINE_SHARE * sized_for:
        return MachineFit(bounds, False)
    threads = bounds.threads
    if threads is not None and cpus:
        threads = min(threads, max(cpus // 2, 1))  # the budget's rule (half the CPUs) on this machine's
    floors = MemoryBounds(f"{ADMIN_HEAP_FLOOR // MIB}m", f"{ADMIN_OFF_HEAP_FLOOR // MIB}m", threads)
    note = (f"this machine has {total // MIB} MiB of memory (MemTotal), less than the {sized_for // MIB} MiB "
            f"neo4j-admin's budget (heap {bounds.heap}, off-heap {bounds.off_heap}) was sized for: the instance "
            f"keeps its old type until `make rollout` replaces it; using the floors instead (heap {floors.heap}, "
            f"off-heap {floors.off_heap}{f', {threads} check threads' if threads else ''})")
    return MachineFit(floors, True, note)


def fit_this_machine(bounds: MemoryBounds, sized_for: int | None) -> MachineFit:
    return fit(bounds, sized_for, read_mem_total() if sized_for is not None else None, os.cpu_count())
