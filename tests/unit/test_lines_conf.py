"""The version-line facts the real-server tests rely on: one pinned release per line, the 4.4 dialect
of the test machine's overrides, and what our 4.4 conf must say for Neo4j 4.4 to take it (found by
starting the real 4.4 server: tests/integration/test_lines_real_neo4j.py)."""
from __future__ import annotations

import pytest

from components.settings import ConfigError, load_settings
from tests.support.neo4j_dist import LINES, NEO4J_VERSION, NEO4J_VERSIONS, line_of, pinned_version
from tests.support.neo4j_local import machine_overrides, rendered_conf

COMMUNITY = {"neo4j:edition": "community", "neo4j:coreCount": 1, "neo4j:replicaCount": 0}


def test_one_pinned_release_per_rendered_line():
    assert LINES == ("4.4", "5", "2025")
    assert [line_of(version).name for version in NEO4J_VERSIONS.values()] == list(LINES)
    assert NEO4J_VERSION == NEO4J_VERSIONS["5"]
    assert [pinned_version(name) for name in ("4.4", "5.26", "2025")] == list(NEO4J_VERSIONS.values())
    assert pinned_version("4.4.40") == "4.4.40"


def test_each_line_has_its_entry_points_and_java():
    assert (line_of("4.4").admin_main, line_of("4.4").server_main) == \
        ("org.neo4j.cli.AdminTool", "org.neo4j.server.CommunityEntryPoint")
    assert line_of("2025").server_main == "org.neo4j.server.Neo4jCommunity"
    assert line_of("2025").java_major == 21
    assert "--add-opens=java.base/java.nio=ALL-UNNAMED" in line_of("4.4").machine_jvm_args
    assert line_of("4.4").memory_recommendation == ("memrec",)


@pytest.mark.parametrize("line", LINES)
def test_machine_overrides_replace_keys_the_rendered_conf_of_the_line_sets(line):
    conf = rendered_conf(version=NEO4J_VERSIONS[line])
    keys = {entry.split("=", 1)[0] for entry in conf.splitlines() if "=" in entry and not entry.startswith("#")}
    overrides = machine_overrides(7001, 7002, 7003, import_dir="/tmp/import", version=NEO4J_VERSIONS[line])
    assert set(overrides) <= keys, set(overrides) - keys
    assert all(key.startswith("dbms.") for key in overrides) == (line == "4.4")


def test_44_keeps_the_retention_days_without_the_size_cap_it_cannot_take():
    # Neo4j 4.4.46 refuses `dbms.tx_log.rotation.retention_policy=2 days 2G` and will not start.
    assert load_settings("t", {**COMMUNITY, "neo4j:version": "4.4.46"}).tx_log_retention == "2 days"
    assert load_settings("t", {**COMMUNITY, "neo4j:version": "5.26.30"}).tx_log_retention == "2 days 2G"
    assert load_settings("t", {**COMMUNITY, "neo4j:version": "2025.10.1"}).tx_log_retention == "2 days 2G"
    assert load_settings("t", {**COMMUNITY, "neo4j:version": "4.4.46", "neo4j:txLogRetention": "1000 files"}
                         ).tx_log_retention == "1000 files"
    with pytest.raises(ConfigError) as refused:
        load_settings("t", {**COMMUNITY, "neo4j:version": "4.4.46", "neo4j:txLogRetention": "2 days 2G"})
    assert refused.value.problems == [
        "neo4j:txLogRetention: got '2 days 2G' on neo4j:version 4.4.46; allowed on 4.4: one limit without a size "
        "cap, such as \"2 days\" or \"1000 files\" (4.4's dbms.tx_log.rotation.retention_policy takes no second "
        "value)"]


def test_44_conf_keeps_transaction_state_on_the_heap():
    conf = rendered_conf(version=NEO4J_VERSIONS["4.4"])
    assert "dbms.tx_state.memory_allocation=ON_HEAP" in conf
    assert "dbms.tx_log.rotation.retention_policy=2 days\n" in conf
