import pytest

from components.instance_types import INSTANCE_TYPES
from components.render import memory_plan
from components.sizing import GIB, MIB, machine_memory, memory_setting, plan_memory, recommend_memory
from components.topology import plan_topology
from tests.conftest import make_settings


def test_recommendation_fills_the_machine_without_exceeding_it():
    for gib in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
        plan = recommend_memory(gib * GIB)
        assert 0 < plan.heap + plan.page_cache < plan.ram, gib
        assert plan.heap <= 31 * GIB  # compressed oops


def test_heap_interpolates_linearly_between_brackets():
    # 48 GiB lies halfway between the 32 GiB (12g heap) and 64 GiB (24g heap) brackets.
    assert recommend_memory(48 * GIB).heap == 18 * GIB
    assert recommend_memory(48 * GIB).os_reserve == 10 * GIB


def test_values_are_kept_as_neo4j_admin_prints_them():
    plan = recommend_memory(8 * GIB)
    assert (memory_setting(plan.heap), memory_setting(plan.page_cache)) == ("3600m", "2g")
    assert plan.heap == 3600 * MIB


def test_heap_override_wins_and_page_cache_takes_the_rest():
    plan = plan_memory(64 * GIB, heap_override=16 * GIB)
    assert plan.heap == 16 * GIB
    assert plan.page_cache == 64 * GIB - plan.os_reserve - 16 * GIB
    assert plan.source == "overridden: heap"


def test_both_overrides_win():
    plan = plan_memory(64 * GIB, heap_override=10 * GIB, page_cache_override=20 * GIB)
    assert (plan.heap, plan.page_cache) == (10 * GIB, 20 * GIB)


def test_instance_type_table_gives_the_machine_memory():
    assert machine_memory("aws", "r6i.2xlarge", 0) == 64 * GIB
    assert machine_memory("docker", "r6i.2xlarge", 2 * GIB) == 2 * GIB
    assert INSTANCE_TYPES["m6i.xlarge"].memory_gib == 16


@pytest.mark.parametrize("role_key, server", [("coreInstanceType", "core-1"), ("replicaInstanceType", "replica-1")])
def test_each_role_is_sized_from_its_own_instance_type(role_key, server):
    settings = make_settings(**{role_key: "r6i.2xlarge"}, replicaCount=1)
    plan = memory_plan(settings, plan_topology(settings).server(server))
    assert plan.ram == 64 * GIB and plan.heap == 24 * GIB
