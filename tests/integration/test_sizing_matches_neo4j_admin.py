"""Our memory plan equals the recommendation command of each line (from Maven Central): `neo4j-admin
server memory-recommendation` of 5.26 for every bracket and instance type, and for a few sizes that of
2025 and 4.4's `neo4j-admin memrec`, each run on the conf we render for a server of that memory."""
import pytest

from components.instance_types import INSTANCE_TYPES
from components.sizing import GIB, recommend_memory
from components.units import neo4j_size
from tests.support.neo4j_dist import NEO4J_VERSION, NEO4J_VERSIONS, line_of, memory_recommendation
from tests.support.neo4j_local import local_jvm_args, rendered_conf

pytestmark = pytest.mark.integration


def recommended(gib: float, version: str = NEO4J_VERSION, conf: str | None = None) -> dict:
    """The release's recommendation, its neo4j-admin JVM run with the test machine's options (C1, CDS); its answer kept
    in the release's cache and read from there on later runs (tests/support/neo4j_dist.py memory_recommendation)."""
    return memory_recommendation(gib, version=version, conf=conf, jvm_args=local_jvm_args(version), cached=True)


@pytest.mark.parametrize("gib", [4, 8, 16, 32, 64, 128, 256])
def test_recommendation_equals_neo4j_admin(gib):
    real = recommended(gib)
    ours = recommend_memory(gib * GIB)
    assert (neo4j_size(ours.heap), neo4j_size(ours.heap), neo4j_size(ours.page_cache)) == \
        (real["heap_initial_str"], real["heap_max_str"], real["pagecache_str"])


def test_recommendation_between_brackets_equals_neo4j_admin():
    # 12 and 96 GiB fall inside brackets: the interpolation and the 100 MiB rounding both show.
    for gib in (12, 96):
        real = recommended(gib)
        ours = recommend_memory(gib * GIB)
        assert (neo4j_size(ours.heap), neo4j_size(ours.page_cache)) == (real["heap_max_str"], real["pagecache_str"])


def test_every_instance_type_in_the_table_is_sized_as_neo4j_admin_would():
    for memory_gib in sorted({t.memory_gib for t in INSTANCE_TYPES.values()} - {4, 8, 16, 32, 64, 128, 256}):
        real = recommended(memory_gib)
        ours = recommend_memory(int(memory_gib * GIB))
        assert neo4j_size(ours.heap) == real["heap_max_str"], memory_gib
        assert neo4j_size(ours.page_cache) == real["pagecache_str"], memory_gib


@pytest.mark.parametrize("gib", [4, 12, 32, 96])
@pytest.mark.parametrize("line", ["4.4", "2025"])
def test_rendered_memory_settings_equal_the_lines_own_recommendation(line, gib):
    # The recommendation reads the conf (4.4's takes an off-heap transaction budget out of the page
    # cache unless the conf keeps transaction state on the heap, as ours does), so it runs on ours.
    version = NEO4J_VERSIONS[line]
    conf = rendered_conf(version=version, containerMemory=f"{gib}g")
    keys = line_of(version).keys
    rendered = dict(entry.split("=", 1) for entry in conf.splitlines() if entry and not entry.startswith("#"))
    real = recommended(gib, version=version, conf=conf)
    assert (rendered[keys["heap_initial"]], rendered[keys["heap_max"]], rendered[keys["pagecache"]]) == \
        (real["heap_initial_str"], real["heap_max_str"], real["pagecache_str"]), real["raw"]
    assert "tx_off_heap" not in real, real["raw"]  # nothing beside heap and page cache
    ours = recommend_memory(gib * GIB)
    assert (neo4j_size(ours.heap), neo4j_size(ours.page_cache)) == (real["heap_max_str"], real["pagecache_str"])
