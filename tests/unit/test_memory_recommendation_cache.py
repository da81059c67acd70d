"""The memory recommendation the sizing tests compare with (tests/support/neo4j_dist.memory_recommendation,
cached=True): neo4j-admin answers once per release, memory and conf, then the answer comes from the tests' cache."""
from __future__ import annotations

import subprocess

from tests.support import neo4j_dist

ANSWER = """# Based on the specified system memory of {memory}:
server.memory.heap.initial_size={heap}
server.memory.heap.max_size={heap}
server.memory.pagecache.size=512m
"""


def test_the_recommendation_is_asked_once_per_release_memory_and_conf_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_DIST_CACHE_DIR", str(tmp_path / "cache"))
    runs: list[tuple[list[str], str, str]] = []

    def neo4j_admin(args, home, *, version, **_):
        conf = (home / "conf" / "neo4j.conf").read_text() if (home / "conf" / "neo4j.conf").exists() else ""
        runs.append((args, version, conf))
        return subprocess.CompletedProcess(args, 0, ANSWER.format(memory=args[-1], heap=f"{len(runs)}g"), "")

    monkeypatch.setattr(neo4j_dist, "run_neo4j_admin", neo4j_admin)
    ask = neo4j_dist.memory_recommendation

    assert ask(8, version="5.26.30", cached=True)["heap_max_str"] == "1g"
    assert ask(8, version="5.26.30", cached=True)["heap_max_str"] == "1g"  # from the cache
    assert len(runs) == 1
    # Another memory, conf or release: asked again, each kept apart.
    assert ask(16, version="5.26.30", cached=True)["heap_max_str"] == "2g"
    assert ask(8, version="5.26.30", conf="db.tx_state.memory_allocation=ON_HEAP\n", cached=True)[
        "heap_max_str"] == "3g"
    assert runs[-1][2] == "db.tx_state.memory_allocation=ON_HEAP\n"
    assert ask(8, version="2025.10.1", cached=True)["heap_max_str"] == "4g"
    assert len(runs) == 4
    # Not cached unless asked: the tool runs every time.
    assert ask(8, version="5.26.30")["heap_max_str"] == "5g"
    # A kept answer that does not parse is asked again, and replaced.
    (kept,) = [path for path in (tmp_path / "cache" / "5.26.30" / "memory-recommendation").iterdir()
               if "1g" in path.read_text()]
    kept.write_text("truncated")
    assert ask(8, version="5.26.30", cached=True)["heap_max_str"] == "6g"
    assert ask(8, version="5.26.30", cached=True)["heap_max_str"] == "6g"
    assert len(runs) == 6
