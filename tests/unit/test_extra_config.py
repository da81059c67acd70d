"""neo4j:extraConfig (issue 25, item 4): any neo4j.conf setting of the stack's line, checked at settings time.

The settings page of the Operations Manual is the catalogue (components/neo4j_settings/<line>.json) and its
"Valid values" cells the types (valid-values/<line>.json). The settings the program sets are derived from the
conf templates (components/neo4j_settings/owned.py); the tests below render many stacks and fail when a
template renders a setting that the escape hatch could still set.
"""
from __future__ import annotations

import itertools

import pytest

from components.neo4j_settings import catalogue, owned
from components.neo4j_settings.extra_config import conf_value, parse_map
from components.neo4j_settings.values import value_type
from components.render import render_cluster, render_neo4j_conf
from components.settings import ConfigError, load_settings
from components.topology import plan_topology
from tests.conftest import BASE, make_settings
from tests.support.neo4j_settings import conf_entries

VERSIONS = {"4.4": "4.4.46", "5": "5.26.30", "2025": "2025.10.1"}
TIMEOUT = {"4.4": "dbms.transaction.timeout", "5": "db.transaction.timeout", "2025": "db.transaction.timeout"}


def problems_of(**overrides) -> list[str]:
    config = {**BASE, **{f"neo4j:{key}": value for key, value in overrides.items()}}
    with pytest.raises(ConfigError) as refused:
        load_settings("test", config)
    return refused.value.problems


def extra_lines(text: str) -> dict[str, str]:
    """The entries after the template's neo4j:extraConfig comment."""
    _, marker, tail = text.partition("# neo4j:extraConfig")
    assert marker, "no extraConfig section"
    return dict(conf_entries(tail.split("\n", 1)[1]))


# --- accepted and rendered -------------------------------------------------------------------------------


@pytest.mark.parametrize("line", VERSIONS)
@pytest.mark.parametrize("platform", ["aws", "docker"])
def test_an_accepted_setting_is_rendered_into_every_servers_conf(line, platform):
    settings = make_settings(version=VERSIONS[line], platform=platform, coreCount=3, replicaCount=1,
                             extraConfig={TIMEOUT[line]: "30s", "db.lock.acquisition.timeout" if line != "4.4"
                                          else "dbms.lock.acquisition.timeout": "10s"})
    rendered = render_cluster(settings, plan_topology(settings))
    for server in ("core-1", "core-2", "core-3", "replica-1"):
        assert extra_lines(rendered.files[server]["neo4j.conf"])[TIMEOUT[line]] == "30s", server


def test_the_role_variant_goes_over_extra_config_on_its_role_only():
    settings = make_settings(
        coreCount=3, replicaCount=2, extraConfig={"db.transaction.timeout": "30s"},
        secondaryExtraConfig={"db.transaction.timeout": "5m", "db.transaction.concurrent.maximum": 50},
        primaryExtraConfig={"server.bolt.thread_pool_max_size": 800})
    files = render_cluster(settings, plan_topology(settings)).files
    confs = {name: dict(conf_entries(texts["neo4j.conf"])) for name, texts in files.items() if "neo4j.conf" in texts}
    assert {name: conf["db.transaction.timeout"] for name, conf in confs.items()} == {
        "core-1": "30s", "core-2": "30s", "core-3": "30s", "replica-1": "5m", "replica-2": "5m"}
    assert [name for name, conf in confs.items() if "server.bolt.thread_pool_max_size" in conf] == [
        "core-1", "core-2", "core-3"]
    assert confs["replica-1"]["db.transaction.concurrent.maximum"] == "50"
    # A setting in both is written once, with the role's value (strict validation refuses a setting declared twice).
    text = render_cluster(settings, plan_topology(settings)).files["replica-2"]["neo4j.conf"]
    assert [key for key, _ in conf_entries(text)].count("db.transaction.timeout") == 1


def test_the_engines_json_text_and_the_files_map_read_alike():
    # Pulumi hands structured config to the program as JSON text; a stack file read by plan gives it parsed.
    assert parse_map('{"db.transaction.timeout": "30s", "dbms.routing.default_router": "SERVER"}') == parse_map(
        {"db.transaction.timeout": "30s", "dbms.routing.default_router": "SERVER"})
    assert conf_value(True) == "true" and conf_value(50) == "50" and conf_value(["a", "b"]) == "a,b"


def test_enums_and_booleans_are_read_whatever_their_case_as_neo4j_reads_them():
    # tests/integration/test_extra_config_real_neo4j.py starts every line with server and False.
    settings = make_settings(extraConfig={"dbms.routing.default_router": "server",
                                          "dbms.security.allow_csv_import_from_file_urls": "False"})
    assert dict(settings.extra_config) == {"dbms.routing.default_router": "server",
                                           "dbms.security.allow_csv_import_from_file_urls": "False"}


@pytest.mark.parametrize("value", ["30s\nserver.memory.heap.max_size=1g", {"nested": 1}, [], None])
def test_a_value_no_conf_line_can_hold_is_refused_by_name(value):
    [problem] = problems_of(extraConfig={"db.transaction.timeout": value})
    assert problem.startswith("neo4j:extraConfig: got ") and "allowed: a map of neo4j.conf settings" in problem


# --- refused, one line each -----------------------------------------------------------------------------


def test_a_misspelt_setting_is_refused_with_the_closest_names():
    [problem] = problems_of(extraConfig={"db.transacton.timeout": "30s"})
    assert problem == ("neo4j:extraConfig: db.transacton.timeout: not a neo4j.conf setting of Neo4j 5.26.30; did you "
                       "mean db.transaction.timeout or db.transaction.bookmark_ready_timeout?")


def test_another_lines_name_is_refused_saying_whose_it_is():
    [problem] = problems_of(version="4.4.46", extraConfig={"db.transaction.timeout": "30s"})
    assert "(it is a setting of Neo4j 5.x and 2025.x); did you mean dbms.transaction.timeout" in problem


@pytest.mark.parametrize("key, controller", [
    ("server.memory.heap.max_size", "neo4j:heapSize"),
    ("server.memory.pagecache.size", "neo4j:pageCacheSize"),
    ("dbms.ssl.policy.bolt.client_auth", "neo4j:tls"),
    ("server.bolt.tls_level", "neo4j:tls"),
    ("dbms.cluster.discovery.v2.endpoints", "neo4j:coreCount/neo4j:replicaCount"),
    ("initial.server.mode_constraint", "neo4j:coreCount/neo4j:replicaCount"),
    ("dbms.security.auth_enabled", "neo4j:authEnabled"),
    ("db.tx_log.rotation.retention_policy", "neo4j:txLogRetention"),
    ("server.jvm.additional", "neo4j:gcMaxPauseMillis"),
])
def test_a_setting_the_program_sets_is_refused_naming_the_stack_key(key, controller):
    [problem] = problems_of(extraConfig={key: "x"})
    assert problem.startswith(f"neo4j:extraConfig: {key}: set by the program for every server; change {controller}")


@pytest.mark.parametrize("key", ["server.bolt.listen_address", "server.directories.data", "server.directories.plugins",
                                 "server.cluster.advertised_address", "server.config.strict_validation.enabled"])
def test_a_setting_no_stack_key_controls_is_refused_as_the_programs(key):
    [problem] = problems_of(primaryExtraConfig={key: "x"})
    assert problem.startswith(f"neo4j:primaryExtraConfig: {key}: set by the program for every server; it stays as "
                              f"the program")


@pytest.mark.parametrize("key, value, allowed", [
    ("db.transaction.timeout", "30 fortnights", "a duration such as 30s"),
    ("db.transaction.timeout", "1.5s", "a duration such as 30s"),
    ("db.checkpoint.interval.volume", "512", "of at least 1.00KiB"),  # "A byte size (…) that is minimum `1.00KiB`."
    ("db.lock.acquisition.timeout", "soon", "a duration"),
    ("dbms.routing.default_router", "LEADER", "one of SERVER, CLIENT"),
    ("dbms.security.allow_csv_import_from_file_urls", "yes", "true or false"),
    ("server.bolt.thread_pool_max_size", "many", "a whole number"),
    ("dbms.cypher.statistics_divergence_threshold", "1.5", "a number from 0.0 to 1.0"),
    ("server.bolt.additional_listen_addresses", "localhost:port", "each element a socket address"),
    ("dbms.memory.transaction.total.max", "5m", "of at least 10.00MiB (or 0B)"),
])
def test_a_value_of_the_wrong_type_is_refused_with_what_is_allowed(key, value, allowed):
    [problem] = problems_of(extraConfig={key: value})
    assert problem.startswith(f"neo4j:extraConfig: {key}: got {value!r}; allowed: ") and allowed in problem


def test_every_problem_is_reported_at_once_one_line_each():
    found = problems_of(extraConfig={"db.transacton.timeout": "30s", "server.memory.heap.max_size": "1g",
                                     "db.transaction.timeout": "30 fortnights"})
    assert [line.split(": ")[1] for line in found] == [
        "db.transacton.timeout", "server.memory.heap.max_size", "db.transaction.timeout"]
    assert all("\n" not in line and line.startswith("neo4j:extraConfig: ") for line in found)


def test_an_enterprise_setting_is_refused_on_community():
    # The template's own note: "The query log is an Enterprise feature; Community rejects the switch."
    [problem] = problems_of(edition="community", coreCount=1, replicaCount=0,
                            extraConfig={"dbms.routing.load_balancing.plugin": "server_policies"})
    assert "an Enterprise Edition setting, and neo4j:edition is community" in problem


def test_a_setting_newer_than_the_stacks_release_is_refused_naming_both():
    # The manual's version label ("since") of a calendar-release setting: 2025.10.1 does not know it yet.
    [problem] = problems_of(version="2025.10.1", extraConfig={"server.memory.pagecache.async": "true"})
    assert problem.startswith("neo4j:extraConfig: server.memory.pagecache.async: added in Neo4j 2026.04, newer than "
                              "neo4j:version 2025.10.1")
    assert make_settings(version="2026.04.0", extraConfig={"server.memory.pagecache.async": "true"}).extra_config


def test_secondary_settings_without_secondaries_are_refused():
    [problem] = problems_of(coreCount=3, replicaCount=0, secondaryExtraConfig={"db.transaction.timeout": "30s"})
    assert problem.startswith("neo4j:secondaryExtraConfig: got settings with neo4j:replicaCount 0")


# --- the types, against the manual itself ---------------------------------------------------------------

# Defaults the settings page shows in a form no conf line takes: the displayed empty map, and 4.4's word.
DISPLAYED_DEFAULTS = {"{}", "Unlimited"}


@pytest.mark.parametrize("line", catalogue.LINES)
def test_every_documented_default_is_a_value_of_its_settings_type(line):
    data = catalogue.setting_list(line)
    refused = []
    for name in catalogue.names(line):
        meta = data["settings"].get(name) or data.get("pattern_settings", {}).get(name, {})
        default = meta.get("default")
        if default in (None, "") or default in DISPLAYED_DEFAULTS:
            continue
        setting = catalogue.lookup(line, name.replace("<scope>", "bolt"))
        if not value_type(setting.valid_values).accepts(default):
            refused.append((name, default, setting.valid_values))
    assert refused == []


@pytest.mark.parametrize("line", catalogue.LINES)
def test_most_settings_have_a_checked_type(line):
    # A setting without a "Valid values" cell, or with a plain string, takes any one-line text; the rest are checked.
    kinds = [value_type(catalogue.lookup(line, name.replace("<scope>", "bolt")).valid_values).kind
             for name in catalogue.names(line)]
    assert kinds.count("text") / len(kinds) < 0.2, kinds.count("text")


# --- the owned set is what the templates render ----------------------------------------------------------

MATRIX = list(itertools.product(VERSIONS, ["aws", "docker"], ["enterprise", "community"],
                                ["disabled", "optional", "required"]))


def rendered_confs(line: str, platform: str, edition: str, tls: str) -> dict[str, str]:
    shape = dict(coreCount=3, replicaCount=1) if edition == "enterprise" else dict(coreCount=1, replicaCount=0)
    settings = make_settings(version=VERSIONS[line], platform=platform, edition=edition, tls=tls, **shape)
    topology = plan_topology(settings)
    return {s.name: render_neo4j_conf(settings, topology, s) for s in topology.servers}


@pytest.mark.parametrize("line, platform, edition, tls", MATRIX)
def test_every_setting_a_template_renders_is_closed_to_extra_config(line, platform, edition, tls):
    """Owned (refused naming who sets it), or, for the few a template writes from data (the plugins' and the
    IP blocklist's), refused anyway: no catalogue entry, or render's own net (a setting declared twice).
    Operations Manual 5.x, configuration-settings.adoc, server.config.strict_validation.enabled: "A strict
    configuration validation will prevent the database from starting up if unknown configuration options are
    specified in the neo4j settings namespace (such as dbms., cypher., etc) or if settings are declared multiple
    times." """
    dynamic = []
    for text in rendered_confs(line, platform, edition, tls).values():
        for key, _ in conf_entries(text):
            if owned.owner(line, key) is None:
                dynamic.append(key)
    for key in sorted(set(dynamic)):
        assert catalogue.lookup(line, key) is None, f"{key} is rendered, catalogued and not owned"


def test_the_template_lines_the_scan_cannot_read_are_the_known_data_driven_ones():
    # A new `{{ expression }}=` line makes this fail: teach owned.py what fills it (or prove it is refused).
    for template in set(owned.CONF_TEMPLATES.values()):
        _, _, unresolved = owned.template_keys(template)
        assert set(unresolved) <= {"plugins: {{ key }}", "{{ conf.ip_blocklist.key }}"}, unresolved


def test_the_scan_finds_each_families_rendered_keys():
    exact, patterns = owned.owned_keys("5")
    assert {"server.memory.heap.max_size", "server.bolt.listen_address", "dbms.cluster.endpoints",
            "initial.server.mode_constraint", "server.jvm.additional", "server.directories.import"} <= exact
    assert any(p.match("dbms.ssl.policy.cluster.verify_hostname") for p in patterns)
    assert owned.owner("5", "db.transaction.timeout") is None


def test_render_refuses_a_setting_the_template_already_wrote(monkeypatch):
    # The last net, for what the scan cannot see: monkeypatch the owned set empty, and render still refuses.
    monkeypatch.setattr(owned, "owner", lambda line, key: None)
    settings = make_settings(extraConfig={"server.memory.heap.max_size": "1g"})
    topology = plan_topology(settings)
    with pytest.raises(ConfigError) as refused:
        render_neo4j_conf(settings, topology, topology.servers[0])
    assert refused.value.problems == ["neo4j:extraConfig: server.memory.heap.max_size: set by the program for "
                                      "core-1 already; allowed: a setting the program does not set"]


@pytest.mark.parametrize("line", VERSIONS)
def test_every_owned_setting_names_who_sets_it(line):
    # A new template line needs a controller in owned.py: the refusal must say what to change instead.
    exact, _ = owned.owned_keys(line)
    assert [key for key in sorted(exact) if owned.controller(key) == owned.PROGRAM] == []
