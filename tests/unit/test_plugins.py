"""neo4j:plugins: what each line's package ships, where each plugin runs, what the conf and the boot get.

The rules are the manuals', quoted per line:
- Operations Manual, "Configure plugins" (neo4j/docs-operations, modules/ROOT/pages/configuration/plugins.adoc, branches
  4.4, 5.x and dev): which plugins the package ships in labs/ and products/, and the settings that enable them.
- GDS manual, "GDS with Neo4j cluster" (neo4j/graph-data-science, doc/modules/ROOT/pages/production-deployment/
  neo4j-cluster.adoc, branches 2.13 to 2026.03): where GDS runs in a cluster.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from components.aws.user_data import aws_artifacts
from components.docker.servers import plugin_envs_and_uploads
from components.plugins import (
    APOC_KEY,
    GDS,
    GDS_CLUSTER_RULE,
    missing_plugin_warnings,
    privilege_namespace,
    shipped_plugins,
)
from components.render import render_cluster
from components.settings import ConfigError
from components.topology import plan_topology
from scripts.neo4j_ops.plan.plugin_lines import plugin_lines
from tests.conftest import make_settings, require_tool, stack_config
from tests.support.neo4j_settings import known

LINES = {"4.4": "4.4.46", "5": "5.26.30", "2025": "2025.10.1"}

# --- what each line ships ----------------------------------------------------------------------------------------

MANUAL_SHIPS = {
    # 4.4: "The JAR files for these products are located in the _product_ and _labs_ folders and can be installed as
    # plugins." Its table names APOC Core `apoc-core` (`apoc` there is the whole library, which no package ships).
    "4.4": {"apoc-core", "graph-data-science", "fleet-management"},
    # 5.x: "come with a range of pre-installed products, such as Gen AI, Graph Data Science, and Fleet management in
    # the _products_ directory and the APOC Core jar file in the _labs_ directory."
    "5": {"apoc", "graph-data-science", "genai", "fleet-management"},
    # dev: "such as Gen AI, Bloom, and Graph Data Science in the _products_ directory, and the APOC Core jar file in
    # the _labs_ directory." (Bloom is left out on purpose: components/plugins.py says why.)
    "2025": {"apoc", "graph-data-science", "genai", "fleet-management"},
}


@pytest.mark.parametrize("line", LINES)
def test_each_line_offers_what_its_package_ships_in_labs_and_products(line):
    shipped = shipped_plugins(LINES[line], line)
    assert set(shipped) == MANUAL_SHIPS[line]
    assert {p.directory for p in shipped.values()} == {"labs", "products"}
    assert shipped[APOC_KEY[line]].directory == "labs"  # "the APOC Core jar file in the _labs_ directory"
    assert shipped[GDS].directory == "products"


@pytest.mark.parametrize(("version", "line", "has_fleet"), [
    # dev: "Fleet management is also included in the _products_ directory in versions Neo4j 4.4.45+, 5.26.12+, and
    # versions between 2025.08.0 and 2026.02.2 inclusive."
    ("4.4.44", "4.4", False), ("4.4.45", "4.4", True), ("5.26.11", "5", False), ("5.26.12", "5", True),
    ("2025.07.1", "2025", False), ("2025.08.0", "2025", True), ("2026.02.2", "2025", True),
    ("2026.03.0", "2025", False),  # "starting with Neo4j 2026.03, Fleet Manager is built-in"
])
def test_fleet_management_only_where_the_package_ships_it(version, line, has_fleet):
    assert ("fleet-management" in shipped_plugins(version, line)) is has_fleet


def test_genai_namespaces_follow_the_2025_11_rename():
    # dev: "Starting with Neo4j 2025.11, GenAI procedures, available in Cypher 25, have the new prefix `ai.*`."
    assert shipped_plugins("2025.10.1", "2025")["genai"].namespaces == ("genai.*",)
    assert shipped_plugins("2025.11.0", "2025")["genai"].namespaces == ("genai.*", "ai.*")


@pytest.mark.parametrize(("version", "key"), [("4.4.46", "apoc"), ("4.4.46", "genai"), ("5.26.30", "apoc-core"),
                                              ("5.26.30", "bloom"), ("2025.10.1", "n10s")])
def test_a_plugin_the_line_does_not_ship_is_one_line_naming_the_key_and_the_allowed_values(version, key):
    with pytest.raises(ConfigError) as refused:
        make_settings(version=version, plugins=[key], replicaCount=1)
    (problem,) = refused.value.problems
    assert problem.startswith(f"neo4j:plugins: got {key!r} on neo4j:version {version}; allowed: ")
    line = "4.4" if version.startswith("4.4") else ("5" if version.startswith("5") else "2025")
    for allowed in MANUAL_SHIPS[line]:
        assert allowed in problem


def test_a_plugin_named_twice_is_refused():
    with pytest.raises(ConfigError, match=r"neo4j:plugins: .*allowed: plugin names without repeats"):
        make_settings(plugins=["apoc", "apoc"])


# --- GDS placement ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("line", LINES)
def test_gds_on_a_cluster_without_secondaries_is_refused_quoting_the_gds_manual(line):
    # GDS manual, 4.x tab: "The cluster must contain at least one _Read Replica_ instance"; 5.x tab: "The cluster
    # must contain at least one _Secondary_ machine".
    expected = {"4.4": "The cluster must contain at least one _Read Replica_ instance",
                "5": "The cluster must contain at least one _Secondary_ machine",
                "2025": "The cluster must contain at least one _Secondary_ machine"}[line]
    assert GDS_CLUSTER_RULE[line] == expected
    with pytest.raises(ConfigError) as refused:
        make_settings(version=LINES[line], coreCount=3, replicaCount=0, plugins=[APOC_KEY[line], GDS])
    (problem,) = refused.value.problems
    assert problem.startswith("neo4j:plugins: got graph-data-science on a cluster of 3 primaries and replicaCount 0")
    assert expected in problem and "neo4j:replicaCount 1 or more" in problem


@pytest.mark.parametrize("line", LINES)
def test_gds_runs_on_one_dedicated_secondary_never_on_a_primary(line):
    # GDS manual: "Since GDS performs large computations with the full resources of the system it is not suitable to
    # run on instances that serve the transactional workload of the cluster." and "GDS plugin deployed on the
    # _Secondary_" (4.x: "on the _Read Replica_"); "GDS workloads are not load-balanced if there are more than one
    # _Secondary_ instances", so one secondary is all GDS uses.
    settings = make_settings(version=LINES[line], coreCount=3, replicaCount=2, plugins=[APOC_KEY[line], GDS])
    rendered = render_cluster(settings, plan_topology(settings))
    runs_gds = [name for name, plan in rendered.servers.items() if GDS in {p.key for p in plan.plugins}]
    assert runs_gds == ["replica-2"]
    for name, plan in rendered.servers.items():
        assert APOC_KEY[line] in {p.key for p in plan.plugins}, name  # "the plugin must be installed on each server"
        conf = rendered.files[name]["neo4j.conf"]
        gds = "apoc.*,gds.*" if name == "replica-2" else "apoc.*"
        assert f"\ndbms.security.procedures.unrestricted={gds}\n" in conf
        assert f"\ndbms.security.procedures.allowlist={gds}\n" in conf


def test_gds_runs_on_the_one_server_of_a_standalone_stack():
    settings = make_settings(edition="community", coreCount=1, replicaCount=0, plugins=["apoc", GDS])
    rendered = render_cluster(settings, plan_topology(settings))
    assert [p.key for p in rendered.servers["core-1"].plugins] == ["apoc", GDS]


def test_no_gds_setting_on_a_server_without_gds():
    # GDS manual (GDS with Neo4j cluster): on the primaries "Neo4j will _not_ be able to validate the GDS-specific
    # configuration items. And validation failure would mean Neo4j would refuse to start."
    settings = make_settings(coreCount=3, replicaCount=1, plugins=["apoc", GDS])
    rendered = render_cluster(settings, plan_topology(settings))
    for core in ("core-1", "core-2", "core-3"):
        assert "gds." not in rendered.files[core]["neo4j.conf"]
    assert "gds.*" in rendered.files["replica-1"]["neo4j.conf"]
    assert "gds.enterprise.license_file" not in rendered.files["replica-1"]["neo4j.conf"]  # no licence delivered


@pytest.mark.parametrize("line", LINES)
def test_the_procedure_settings_we_render_are_the_lines_own(line):
    # 5.x: "Add the plugin that you want to enable to the ... `dbms.security.procedures.unrestricted` setting" and
    # "If ... `dbms.security.procedures.allowlist` is set in your configuration, also add the plugin to this setting";
    # 4.4 has both too (its `whitelist` is the deprecated name).
    settings = make_settings(version=LINES[line], plugins=[APOC_KEY[line]])
    conf = render_cluster(settings, plan_topology(settings)).files["core-1"]["neo4j.conf"]
    for key in ("dbms.security.procedures.unrestricted", "dbms.security.procedures.allowlist"):
        assert f"\n{key}=apoc.*\n" in conf
        assert known(line, key) is not None, (line, key)
    assert "whitelist" not in conf


def test_a_stack_without_plugins_renders_no_plugin_setting_or_file():
    settings = make_settings()
    rendered = render_cluster(settings, plan_topology(settings))
    for name in ("core-1", "replica-1"):
        assert "dbms.security.procedures" not in rendered.files[name]["neo4j.conf"]
        assert set(rendered.files[name]) <= {"neo4j.conf", "join-topology.sh"}


def test_apoc_settings_go_to_apoc_conf_not_neo4j_conf():
    # APOC Core documentation, Configuration Options: "as of Neo4j v.5, APOC config settings are no longer supported in
    # the neo4j.conf file. Users should move all apoc.* settings to the apoc.conf file." (apoc.conf "Must be located in
    # the same folder as neo4j.conf").
    settings = make_settings(plugins=["apoc"])
    files = render_cluster(settings, plan_topology(settings)).files["core-1"]
    assert "apoc." not in "".join(line for line in files["neo4j.conf"].splitlines(True)
                                  if not line.startswith(("#", "dbms.security.procedures")))
    assert "apoc.export.file.enabled=false\n" in files["apoc.conf"]
    assert "apoc.import.file.enabled=false\n" in files["apoc.conf"]


# --- install-plugins.sh, run by bash in a temporary NEO4J_HOME --------------------------------------------------------

def _script(tmp_path, **stack):
    settings = make_settings(**stack)
    text = render_cluster(settings, plan_topology(settings)).files["replica-1"]["install-plugins.sh"]
    script = tmp_path / "install-plugins.sh"
    script.write_text(text)
    return script


def _run(script, home):
    return subprocess.run([require_tool("bash"), str(script), str(home)], capture_output=True, text=True, timeout=30)


def test_install_plugins_copies_the_packages_jars_replaces_other_versions_and_removes_unlisted_ones(tmp_path):
    home = tmp_path / "home"
    (home / "labs").mkdir(parents=True)
    (home / "products").mkdir()
    (home / "plugins").mkdir()
    (home / "labs" / "apoc-5.26.30-core.jar").write_bytes(b"apoc 5.26.30")
    (home / "products" / "neo4j-graph-data-science-2.13.4.jar").write_bytes(b"gds")
    (home / "plugins" / "apoc-5.26.29-core.jar").write_bytes(b"the earlier package's")
    (home / "plugins" / "neo4j-genai-plugin-5.26.29.jar").write_bytes(b"no longer listed")
    (home / "plugins" / "mine.jar").write_bytes(b"not a shipped plugin: left alone")
    script = _script(tmp_path, coreCount=3, replicaCount=1, plugins=["apoc", GDS])
    first = _run(script, home)
    assert first.returncode == 0, first.stderr
    assert sorted(first.stdout.splitlines()) == sorted([
        "removed apoc-5.26.29-core.jar", "installed apoc-5.26.30-core.jar",
        "installed neo4j-graph-data-science-2.13.4.jar", "removed neo4j-genai-plugin-5.26.29.jar"])
    assert sorted(p.name for p in (home / "plugins").iterdir()) == [
        "apoc-5.26.30-core.jar", "mine.jar", "neo4j-graph-data-science-2.13.4.jar"]
    again = _run(script, home)
    assert (again.returncode, again.stdout) == (0, "")


def test_install_plugins_fails_naming_the_plugin_when_the_package_lacks_its_jar_and_downloads_nothing(tmp_path):
    home = tmp_path / "home"
    (home / "labs").mkdir(parents=True)
    (home / "labs" / "apoc-5.26.30-core.jar").write_bytes(b"apoc")
    script = _script(tmp_path, coreCount=3, replicaCount=1, plugins=["apoc", GDS])
    assert "curl" not in script.read_text() and "wget" not in script.read_text()
    result = _run(script, home)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"plugin graph-data-science: need one products/neo4j-graph-data-science-*.jar "
                                     f"in {home}")


def test_install_plugins_refuses_two_jars_of_one_plugin(tmp_path):
    home = tmp_path / "home"
    (home / "labs").mkdir(parents=True)
    (home / "labs" / "apoc-5.26.29-core.jar").write_bytes(b"a")
    (home / "labs" / "apoc-5.26.30-core.jar").write_bytes(b"b")
    result = _run(_script(tmp_path, plugins=["apoc"]), home)
    assert result.returncode == 1 and "need one labs/apoc-*-core.jar" in result.stderr


# --- the platforms ------------------------------------------------------------------------------------------------

def test_the_ec2_boot_installs_the_plugins_after_the_conf_and_before_neo4j_starts():
    settings = make_settings(coreCount=3, replicaCount=1, plugins=["apoc", GDS])
    artifacts = aws_artifacts(settings, plan_topology(settings))
    setup = artifacts["replica-1"]["setup-neo4j.sh"]
    steps = [line.split()[1] for line in setup.splitlines() if line.startswith("run_step ")]
    assert steps.index("install_configuration") < steps.index("install_plugins") < steps.index("start_neo4j")
    assert "install_plugin graph-data-science products 'neo4j-graph-data-science-*.jar'" in setup
    assert "install_plugin graph-data-science" not in artifacts["core-1"]["setup-neo4j.sh"]
    assert "apoc.export.file.enabled=false" in setup and "/etc/neo4j/apoc.conf" in setup


def test_the_docker_stack_asks_the_image_for_the_same_plugins():
    # docker-neo4j, docker-image-src/5/coredb/neo4j-plugins.json: "apoc": {"location":
    # "/var/lib/neo4j/labs/apoc-*-core.jar", ...}, "graph-data-science": {..., "location":
    # "/var/lib/neo4j/products/neo4j-graph-data-science-*.jar", ...}; the entrypoint copies from the location first.
    settings = make_settings(platform="docker", coreCount=3, replicaCount=1, plugins=["apoc", GDS])
    rendered = render_cluster(settings, plan_topology(settings))
    envs, uploads = plugin_envs_and_uploads(rendered.servers["replica-1"], rendered.files["replica-1"])
    assert envs == ("NEO4J_PLUGINS=" + json.dumps(["apoc", GDS]),)
    assert [u.path for u in uploads] == ["/var/lib/neo4j/conf/apoc.conf"]
    envs, _ = plugin_envs_and_uploads(rendered.servers["core-1"], rendered.files["core-1"])
    assert envs == ('NEO4J_PLUGINS=["apoc"]',)


# --- roles and the plan ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("privilege", "namespace"), [("EXECUTE PROCEDURE gds.* ON DBMS", "gds"),
                                                      ("EXECUTE BOOSTED PROCEDURE apoc.* ON DBMS", "apoc"),
                                                      ("EXECUTE FUNCTION apoc.text.* ON DBMS", "apoc"),
                                                      ("MATCH {*} ON GRAPH neo4j", None),
                                                      ("EXECUTE PROCEDURE * ON DBMS", None)])
def test_privilege_namespace(privilege, namespace):
    assert privilege_namespace(privilege) == namespace


def test_a_role_granted_gds_on_a_stack_without_gds_gets_a_warning():
    roles = [{"name": "data_scientist", "privileges": ["EXECUTE PROCEDURE gds.* ON DBMS"]}]
    without = make_settings(roles=roles, plugins=["apoc"])
    (warning,) = missing_plugin_warnings(without.roles, without.plugins, without.version, without.version_line)
    assert warning.startswith("WARNING: role data_scientist is granted 'EXECUTE PROCEDURE gds.* ON DBMS', but "
                              "neo4j:plugins does not install graph-data-science")
    with_gds = make_settings(roles=roles, plugins=["apoc", GDS])
    assert missing_plugin_warnings(with_gds.roles, with_gds.plugins, with_gds.version, with_gds.version_line) == []
    apoc_role = make_settings(roles=[{"name": "etl", "privileges": ["EXECUTE PROCEDURE apoc.* ON DBMS"]}],
                              version="4.4.46")
    (warning,) = missing_plugin_warnings(apoc_role.roles, apoc_role.plugins, apoc_role.version, apoc_role.version_line)
    assert "does not install apoc-core" in warning


def test_the_prod_plan_shows_the_plugins_and_the_gds_server():
    from components.settings import load_settings

    settings = load_settings("prod", stack_config("prod"))
    assert settings.plugins == ("apoc", GDS)
    assert any("EXECUTE PROCEDURE gds.*" in p for r in settings.roles if r.name == "data_scientist"
               for p in r.privileges)
    lines = plugin_lines(settings, render_cluster(settings, plan_topology(settings)))
    assert "apoc on every server; graph-data-science on replica-2" in lines[0]
    assert lines[1] == "GDS servers: replica-2 (dedicated secondary: no primary runs GDS)"
    assert lines[2].startswith("GDS licence: none given (neo4j:gdsLicense)") and "WARNING" not in "".join(lines)
    assert not any("role data_scientist" in line for line in lines)


# --- check: each plugin's version function, from recorded Enterprise responses ------------------------------------

def _check_recorded(scenario: str, tmp_path, monkeypatch, capsys):
    from scripts.neo4j_ops.bolt import TlsOptions
    from scripts.neo4j_ops.checks import main
    from scripts.neo4j_ops.recorded import RecordedTransport
    from tests.conftest import ENTERPRISE

    ca = tmp_path / "ca.crt"
    ca.write_text("(recorded)")
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps({"analyst": "analyst-secret-not-real",
                                                           "scientist": "scientist-secret-not-real"}))
    transport = RecordedTransport(ENTERPRISE / scenario, tls=TlsOptions(str(ca)))
    code = main(["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"),
                 "--ca-cert", str(ca)], transport=transport)
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()
             if line.split()[:1] in (["PASS"], ["FAIL"], ["SKIP"])}
    return code, lines, transport


def test_check_calls_each_plugins_version_function_where_it_runs_from_recorded_enterprise_responses(
        tmp_path, monkeypatch, capsys):
    # The recorded cluster has 3 primaries and 1 secondary: prod's plugins placed over it put GDS on replica-1.
    code, lines, transport = _check_recorded("cluster-5.26-healthy.json", tmp_path, monkeypatch, capsys)
    assert code == 0, lines
    assert lines["plugin:apoc"].split(None, 2)[2] == "apoc 5.26.30 on core-1, core-2, core-3, replica-1"
    assert lines["plugin:graph-data-science"].split(None, 2)[2] == "graph-data-science 2.13.4 on replica-1"
    assert {c.endpoint for c in transport.calls_named("gds_version")} == {"replica-1"}
    assert {c.endpoint for c in transport.calls_named("apoc_version")} == {"core-1", "core-2", "core-3", "replica-1"}
    assert all(c.database is None for c in transport.calls_named("gds_version"))  # `system` runs no function


def test_check_fails_naming_the_server_whose_gds_is_missing_from_recorded_enterprise_responses(
        tmp_path, monkeypatch, capsys):
    code, lines, _ = _check_recorded("cluster-5.26-gds-missing.json", tmp_path, monkeypatch, capsys)
    assert code == 1
    assert lines["plugin:graph-data-science"].startswith("FAIL")
    assert "replica-1: Unknown function 'gds.version'" in lines["plugin:graph-data-science"]
    assert lines["plugin:apoc"].startswith("PASS")
