"""Memory plan of a Neo4j server: heap, page cache and OS reserve from the machine's RAM.

`recommend_memory` reproduces `neo4j-admin server memory-recommendation`: the OS reserve and the
heap come from a table of RAM brackets with linear interpolation between them, and the page
cache gets the rest. tests/integration/test_sizing_matches_neo4j_admin.py compares it with the
real command.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from components.instance_types import INSTANCE_TYPES
from components.units import parse_size
from scripts.neo4j_ops.shared.admin_memory import ADMIN_HEAP_FLOOR, ADMIN_OFF_HEAP_FLOOR

GIB = 1024 ** 3
MIB = 1024 ** 2
KIB = 1024

# (total RAM GiB, OS reserve GiB, heap GiB), from neo4j-admin's MemoryRecommendation brackets.
_BRACKETS: tuple[tuple[float, float, float], ...] = (
    (0.01, 0.007, 0.002),
    (1.0, 0.65, 0.3),
    (2.0, 1, 0.5),
    (4.0, 1.5, 2),
    (6.0, 2, 3),
    (8.0, 2.5, 3.5),
    (10.0, 3, 4),
    (12.0, 3.5, 4.5),
    (16.0, 4, 5),
    (24.0, 6, 8),
    (32.0, 8, 12),
    (64.0, 12, 24),
    (128.0, 16, 31),
    (256.0, 20, 31),
    (512.0, 24, 31),
    (1024.0, 30, 31),
)


@dataclass(frozen=True)
class MemoryPlan:
    ram: int  # bytes of the machine (or container limit)
    os_reserve: int
    heap: int  # initial = max
    page_cache: int
    source: str  # "recommended" or which overrides applied


def _bracket_value(ram: int, column: int) -> int:
    """Linear interpolation inside the RAM bracket, cut down to whole MiB (as neo4j-admin does)."""
    ram_gib = ram / GIB
    low = high = _BRACKETS[-1]
    for index in range(1, len(_BRACKETS)):
        if ram_gib < _BRACKETS[index][0]:
            low, high = _BRACKETS[index - 1], _BRACKETS[index]
            break
    share = 0.0 if low is high else (ram_gib - low[0]) / (high[0] - low[0])
    return int((low[column] + (high[column] - low[column]) * share) * 1024.0) * MIB


_PAGE_CACHE_FLOOR = 8 * MIB
_PAGE_CACHE_CAP = 16 * 1024 * GIB


def recommend_memory(ram: int) -> MemoryPlan:
    """What `neo4j-admin server memory-recommendation --memory=<ram>` recommends (transaction state on heap)."""
    os_reserve = _bracket_value(ram, 1)
    heap = _bracket_value(ram, 2)
    page_cache = min(max(ram - os_reserve - heap, _PAGE_CACHE_FLOOR), _PAGE_CACHE_CAP)
    # Carry the values as neo4j-admin prints them (to 100 MiB), so neo4j.conf reads the same.
    return MemoryPlan(ram, _printed(os_reserve), _printed(heap), _printed(page_cache), "recommended")


def _printed(size: int) -> int:
    return parse_size(memory_setting(size))


def memory_setting(size: int) -> str:
    """A size as neo4j-admin prints it (MemoryRecommendation.bytesToString): 3600m, 31g, 512m."""
    def half_up(value: float) -> int:
        return int(math.floor(value + 0.5))

    if size >= GIB:
        return f"{half_up(size / (100 * MIB)) * 100}m" if size % GIB >= 100 * MIB else f"{half_up(size / GIB)}g"
    if size >= MIB:
        return f"{half_up(size / (100 * KIB)) * 100}k" if size % MIB >= 100 * KIB else f"{half_up(size / MIB)}m"
    return f"{math.ceil(size / KIB)}k"


def plan_memory(ram: int, *, heap_override: int | None = None, page_cache_override: int | None = None) -> MemoryPlan:
    """The recommendation, with explicit overrides winning; the page cache takes what the heap leaves."""
    plan = recommend_memory(ram)
    if heap_override is None and page_cache_override is None:
        return plan
    heap = heap_override if heap_override is not None else plan.heap
    if page_cache_override is not None:
        page_cache = page_cache_override
    else:
        page_cache = max(ram - plan.os_reserve - heap, 0)
    source = "overridden: " + ", ".join(
        name for name, value in (("heap", heap_override), ("page cache", page_cache_override)) if value is not None)
    return MemoryPlan(ram, plan.os_reserve, heap, page_cache, source)


def machine_memory(platform: str, instance_type: str, container_memory: int) -> int:
    """RAM a server's JVM shares with its OS: the instance type's, or the container limit."""
    if platform == "docker":
        return container_memory
    return int(INSTANCE_TYPES[instance_type].memory_gib * GIB)


# What a neo4j-admin process (backup, aggregate, check: one at a time) may use on a server that runs Neo4j.
# Neo4j's own heap and page cache stay untouched: neo4j-admin gets half of what the memory plan leaves outside
# them (the OS reserve, or less with overrides); the other half stays for the OS, its file cache and Neo4j's
# own memory beyond heap and page cache. Of its half, the heap takes one half, and the page cache (backup) or
# off-heap memory (check) the other, less what a JVM uses beyond both (metaspace, code cache, thread stacks).
ADMIN_SHARE_OF_LEFT = 2  # neo4j-admin gets 1/2 of what heap + page cache leave
ADMIN_JVM_OVERHEAD = 128 * MIB
# The least heap and off-heap memory of each (ADMIN_HEAP_FLOOR, ADMIN_OFF_HEAP_FLOOR): scripts/neo4j_ops/shared/
# admin_memory.py, where the backup tools on the machine read them too.


@dataclass(frozen=True)
class AdminBudget:
    """Explicit bounds of every neo4j-admin process on one server, from that server's memory plan.

    heap        HEAP_SIZE (backup, aggregate, check: "Set JVM maximum heap size during command execution",
                Operations Manual 4.4/5.x tools/neo4j-admin/index.adoc)
    off_heap    backup --pagecache (4.4's default is 8m, 5.x/dev give none); check --max-off-heap-memory
                (5.x/dev; its default "90%" of free memory); aggregate and 4.4's check-consistency, which
                have no memory option, get it as the page cache setting of an --additional-config file
    threads     check --threads (5.x/dev; default "The number of CPUs on the machine"): half of them
    """
    left: int  # what the memory plan leaves outside Neo4j's heap and page cache
    heap: int
    off_heap: int
    threads: int

    @property
    def total(self) -> int:
        return self.heap + self.off_heap + ADMIN_JVM_OVERHEAD

    @property
    def fits(self) -> bool:
        return self.heap >= ADMIN_HEAP_FLOOR and self.off_heap >= ADMIN_OFF_HEAP_FLOOR


# The least `left` for which admin_budget fits: each floor met at half of half of it.
ADMIN_MINIMUM_LEFT = ADMIN_SHARE_OF_LEFT * max(2 * ADMIN_HEAP_FLOOR, 2 * (ADMIN_OFF_HEAP_FLOOR + ADMIN_JVM_OVERHEAD))


def admin_budget(plan: MemoryPlan, cpus: int | None) -> AdminBudget:
    """neo4j-admin's bounds on the server of `plan` (whole MiB); `fits` is False where no safe budget exists."""
    left = max(plan.ram - plan.heap - plan.page_cache, 0)
    total = left // ADMIN_SHARE_OF_LEFT // MIB * MIB
    heap = total // 2 // MIB * MIB
    off_heap = max(total - heap - ADMIN_JVM_OVERHEAD, 0)
    return AdminBudget(left, heap, off_heap, max((cpus or 1) // 2, 1))


def machine_cpus(platform: str, instance_type: str) -> int | None:
    """vCPUs of the instance type; None for a container (it has no CPU limit of its own here)."""
    if platform == "docker":
        return None
    return INSTANCE_TYPES[instance_type].vcpus
