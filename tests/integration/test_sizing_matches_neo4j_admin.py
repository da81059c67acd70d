"""Our memory plan equals `neo4j-admin server memory-recommendation` of Neo4j 5.26 (from Maven Central)."""
import pytest

from components.instance_types import INSTANCE_TYPES
from components.sizing import GIB, recommend_memory
from components.units import neo4j_size
from tests.support.neo4j_dist import memory_recommendation

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("gib", [4, 8, 16, 32, 64, 128, 256])
def test_recommendation_equals_neo4j_admin(gib):
    real = memory_recommendation(gib)
    ours = recommend_memory(gib * GIB)
    assert (neo4j_size(ours.heap), neo4j_size(ours.heap), neo4j_size(ours.page_cache)) == \
        (real["heap_initial_str"], real["heap_max_str"], real["pagecache_str"])


def test_recommendation_between_brackets_equals_neo4j_admin():
    # 12 and 96 GiB fall inside brackets: the interpolation and the 100 MiB rounding both show.
    for gib in (12, 96):
        real = memory_recommendation(gib)
        ours = recommend_memory(gib * GIB)
        assert (neo4j_size(ours.heap), neo4j_size(ours.page_cache)) == (real["heap_max_str"], real["pagecache_str"])


def test_every_instance_type_in_the_table_is_sized_as_neo4j_admin_would():
    for memory_gib in sorted({t.memory_gib for t in INSTANCE_TYPES.values()} - {4, 8, 16, 32, 64, 128, 256}):
        real = memory_recommendation(memory_gib)
        ours = recommend_memory(int(memory_gib * GIB))
        assert neo4j_size(ours.heap) == real["heap_max_str"], memory_gib
        assert neo4j_size(ours.page_cache) == real["pagecache_str"], memory_gib
