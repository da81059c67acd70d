"""neo4j:extraConfig on real servers (issue 25, item 4): settings the stack file adds, of several types, checked by
components/settings.py and written by our template, are taken by a real Neo4j Community server of each line
(4.4.46, 5.26.30, 2025.10.1) with strict validation on, and read back from the running server: 4.4 with
`CALL dbms.listConfig`, 5.x and 2025 with `SHOW SETTINGS`.

Operations Manual 5.x, configuration-settings.adoc, server.config.strict_validation.enabled (which our 5.x/2025
template sets; 4.4's dbms.config.strict_validation likewise): "A strict configuration validation will prevent the
database from starting up if unknown configuration options are specified in the neo4j settings namespace (such as
dbms., cypher., etc) or if settings are declared multiple times."
"""
from __future__ import annotations

import pytest

from components.neo4j_settings.values import byte_size, duration_ns
from components.settings import ConfigError
from tests.integration.conftest import PASSWORD
from tests.support.neo4j_dist import LINES, NEO4J_VERSIONS, Neo4jDistError, line_of
from tests.support.neo4j_local import prepare, rendered_conf
from tests.support.neo4j_settings import conf_entries

pytestmark = pytest.mark.integration

# A value of each kind per line (Community settings, none the program sets), and how to compare what the server
# shows (it may print a duration or a size in other units). The boolean and the enum are written in another case
# than the manual's: values.py accepts them so, because the servers do (they show false and SERVER back).
EXTRA = {
    "4.4": {"dbms.transaction.timeout": "37s", "dbms.lock.acquisition.timeout": "11s",
            "dbms.connector.bolt.thread_pool_max_size": "123", "dbms.transaction.concurrent.maximum": "500",
            "dbms.security.allow_csv_import_from_file_urls": "False", "dbms.routing.default_router": "server",
            "dbms.memory.transaction.global_max_size": "300m"},
    "5": {"db.transaction.timeout": "37s", "db.lock.acquisition.timeout": "11s",
          "server.bolt.thread_pool_max_size": "123", "db.transaction.concurrent.maximum": "500",
          "dbms.security.allow_csv_import_from_file_urls": "False", "dbms.routing.default_router": "server",
          "dbms.memory.transaction.total.max": "300m"},
}
EXTRA["2025"] = EXTRA["5"]
DURATIONS = {"dbms.transaction.timeout", "db.transaction.timeout", "dbms.lock.acquisition.timeout",
             "db.lock.acquisition.timeout"}
SIZES = {"dbms.memory.transaction.global_max_size", "dbms.memory.transaction.total.max"}


def same(key: str, shown: str, given: str) -> bool:
    if key in DURATIONS:
        return duration_ns(shown) == duration_ns(given)
    if key in SIZES:
        return byte_size(shown) == byte_size(given)
    return shown.lower() == given.lower()


def read_back(local, keys: list[str]) -> dict[str, str]:
    with local.server.driver() as driver:
        if local.line == "4.4":
            records, _, _ = driver.execute_query("CALL dbms.listConfig() YIELD name, value "
                                                 "WHERE name IN $keys RETURN name, value", keys=keys)
        else:
            records, _, _ = driver.execute_query("SHOW SETTINGS YIELD name, value WHERE name IN $keys "
                                                 "RETURN name, value", keys=keys)
    return {record["name"]: str(record["value"]) for record in records}


@pytest.mark.parametrize("line", LINES, ids=[line_of(line).label for line in LINES])
def test_extra_config_takes_effect_on_the_lines_real_server(line, tmp_path):
    version = NEO4J_VERSIONS[line]
    local = prepare(tmp_path / "home", password=PASSWORD, version=version)
    # Our template's conf of a stack with neo4j:extraConfig: load_settings checks every entry on the way.
    conf = rendered_conf(version=version, extraConfig=EXTRA[line])
    entries = dict(conf_entries(conf))
    assert {key: entries[key] for key in EXTRA[line]} == EXTRA[line]
    strict = "dbms.config.strict_validation" if line == "4.4" else "server.config.strict_validation.enabled"
    assert entries[strict] == "true"
    (local.home / "conf" / "neo4j.conf").write_text(conf)
    try:
        local.start(timeout=180)
        shown = read_back(local, list(EXTRA[line]))
    finally:
        local.stop()
    assert set(shown) == set(EXTRA[line]), shown
    different = {key: (shown[key], given) for key, given in EXTRA[line].items() if not same(key, shown[key], given)}
    assert different == {}, different


# What settings.py refuses though the catalogue lists it, and the real server of the line refuses too:
# an Enterprise-labelled setting Community does not know (measured with SHOW SETTINGS / dbms.listConfig on each
# line's Community server: most of them; a few, such as db.memory.pagecache.warmup.enable, are known and do
# nothing there), and on 2025 a setting the manual labels as added after 2025.10.1.
REFUSED = [
    ("4.4", "dbms.panic.shutdown_on_panic", "false", "an Enterprise Edition setting, and neo4j:edition is community"),
    ("5", "browser.retain_editor_history", "false", "an Enterprise Edition setting, and neo4j:edition is community"),
    ("2025", "browser.retain_editor_history", "false", "an Enterprise Edition setting, and neo4j:edition is community"),
    ("2025", "server.memory.pagecache.async", "true", "added in Neo4j 2026.04, newer than neo4j:version 2025.10.1"),
]


@pytest.mark.parametrize("line, key, value, why", REFUSED, ids=[f"{line}-{key}" for line, key, *_ in REFUSED])
def test_what_settings_refuse_from_the_catalogue_the_real_server_refuses_too(line, key, value, why, tmp_path):
    version = NEO4J_VERSIONS[line]
    with pytest.raises(ConfigError) as refused:
        rendered_conf(version=version, extraConfig={key: value})
    [problem] = refused.value.problems
    assert problem.startswith(f"neo4j:extraConfig: {key}: {why}"), problem
    assert_the_real_server_refuses(line, key, value, tmp_path)


def assert_the_real_server_refuses(line: str, key: str, value: str, tmp_path) -> None:
    """The entry written into our rendered conf by hand (settings.py would not render it): the server exits
    before Bolt answers, naming the setting."""
    local = prepare(tmp_path / "home", password=PASSWORD, version=NEO4J_VERSIONS[line])
    conf_file = local.home / "conf" / "neo4j.conf"
    conf_file.write_text(conf_file.read_text() + f"{key}={value}\n")
    try:
        local.start(timeout=120)
    except Neo4jDistError as error:
        assert "exited" in str(error), str(error)
        assert key in local.server.console_log.read_text(errors="replace")
    else:
        pytest.fail(f"Neo4j Community {local.version} started with {key}={value}")
    finally:
        local.stop()


# A value of the wrong type for a boolean, an integer and an enum setting of each line: values.py refuses it with
# what is allowed, and the real server refuses it too (the durations and sizes: test_lines_real_neo4j.py).
WRONG = {"boolean": ("yes", "true or false"), "integer": ("many", "a whole number"),
         "enum": ("LEADER", "one of SERVER, CLIENT")}
WRONG_KEYS = {"4.4": {"boolean": "dbms.security.allow_csv_import_from_file_urls",
                      "integer": "dbms.connector.bolt.thread_pool_max_size", "enum": "dbms.routing.default_router"},
              "5": {"boolean": "dbms.security.allow_csv_import_from_file_urls",
                    "integer": "server.bolt.thread_pool_max_size", "enum": "dbms.routing.default_router"}}
WRONG_KEYS["2025"] = WRONG_KEYS["5"]


@pytest.mark.parametrize("kind", sorted(WRONG))
@pytest.mark.parametrize("line", LINES, ids=[line_of(line).label for line in LINES])
def test_a_value_settings_refuse_by_type_the_real_server_refuses_too(line, kind, tmp_path):
    key = WRONG_KEYS[line][kind]
    value, allowed = WRONG[kind]
    with pytest.raises(ConfigError) as refused:
        rendered_conf(version=NEO4J_VERSIONS[line], extraConfig={key: value})
    assert refused.value.problems == [f"neo4j:extraConfig: {key}: got {value!r}; allowed: {allowed}"]
    assert_the_real_server_refuses(line, key, value, tmp_path)
