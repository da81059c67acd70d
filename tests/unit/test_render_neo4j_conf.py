"""Every rendered neo4j.conf holds only settings its version line knows (the Operations Manual's lists)."""
import itertools
from collections import Counter

import jinja2
import pytest

from components.aws.user_data import aws_artifacts
from components.ip_blocklist import SETTING as IP_BLOCKLIST
from components.render import neo4j_conf_values, render_neo4j_conf
from components.templating import render_template
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.neo4j_settings import DEPRECATED_ON_PURPOSE, REPEATABLE, conf_entries, known

VERSIONS = {"4.4": "4.4.44", "5": "5.26.30", "2025": "2025.10.1"}
SHAPES = {
    "cluster": dict(coreCount=3, replicaCount=2),
    "standalone-enterprise": dict(coreCount=1, replicaCount=0),
    "standalone-community": dict(coreCount=1, replicaCount=0, edition="community"),
}
CASES = list(itertools.product(VERSIONS, SHAPES, ["disabled", "optional", "required"]))


def confs(line: str, shape: str, tls: str) -> dict[str, str]:
    settings = make_settings(version=VERSIONS[line], tls=tls, **SHAPES[shape])
    topology = plan_topology(settings)
    return {s.name: render_neo4j_conf(settings, topology, s) for s in topology.servers}


def values(text: str) -> dict[str, str]:
    return dict(conf_entries(text))


def catalogued_entries(line: str, text: str) -> list[tuple[str, str]]:
    """Every entry but the Cypher IP blocklist, which no settings page of the manual lists (components/ip_blocklist.py:
    Neo4j's SSRF article names it); the real server of each line accepts it under strict validation
    (tests/integration/test_load_csv_blocklist_real_neo4j.py starts every line with the rendered conf)."""
    return [(key, value) for key, value in conf_entries(text) if key != IP_BLOCKLIST[line]]


@pytest.mark.parametrize("line, shape, tls", CASES)
def test_every_key_exists_for_the_version_line(line, shape, tls):
    for name, text in confs(line, shape, tls).items():
        entries = catalogued_entries(line, text)
        assert len(entries) == len(conf_entries(text)) - 1, f"{name}: one Cypher IP blocklist line"
        unknown = [key for key, _ in entries if known(line, key) is None]
        assert not unknown, f"{name} ({line}): not settings of Neo4j {line}: {unknown}"
        repeated = [k for k, n in Counter(k for k, _ in entries).items() if n > 1 and k not in REPEATABLE]
        assert not repeated, f"{name}: set twice: {repeated}"


@pytest.mark.parametrize("line, shape, tls", CASES)
def test_no_deprecated_setting_unless_chosen_on_purpose(line, shape, tls):
    for text in confs(line, shape, tls).values():
        deprecated = [k for k, _ in catalogued_entries(line, text)
                      if known(line, k).get("deprecated") and (line, k) not in DEPRECATED_ON_PURPOSE]
        assert not deprecated


@pytest.mark.parametrize("line", ["5", "2025"])
def test_community_conf_has_no_enterprise_only_setting(line):
    # Community rejects enterprise settings under strict validation.
    for text in confs(line, "standalone-community", "optional").values():
        assert [k for k, _ in catalogued_entries(line, text) if known(line, k).get("enterprise")] == []


def test_4_4_dialect_uses_dbms_mode_and_causal_clustering():
    rendered = confs("4.4", "cluster", "optional")
    assert values(rendered["core-1"])["dbms.mode"] == "CORE"
    assert values(rendered["replica-1"])["dbms.mode"] == "READ_REPLICA"
    core = values(rendered["core-2"])
    assert core["causal_clustering.initial_discovery_members"] == ",".join(
        f"core-{i}.test.neo4j.internal:5000" for i in (1, 2, 3))
    assert core["causal_clustering.minimum_core_cluster_size_at_formation"] == "3"
    assert core["dbms.security.causal_clustering_status_auth_enabled"] == "false"


def test_5_dialect_uses_mode_constraint_and_discovery_v2():
    rendered = confs("5", "cluster", "optional")
    core, replica = values(rendered["core-1"]), values(rendered["replica-2"])
    assert (core["initial.server.mode_constraint"], replica["initial.server.mode_constraint"]) == \
        ("PRIMARY", "SECONDARY")
    assert core["dbms.cluster.discovery.version"] == "V2_ONLY"
    assert core["dbms.cluster.discovery.v2.endpoints"] == ",".join(
        f"core-{i}.test.neo4j.internal:6000" for i in (1, 2, 3))
    assert core["initial.dbms.default_primaries_count"] == "3"
    assert core["initial.dbms.default_secondaries_count"] == "2"
    assert core["dbms.security.cluster_status_auth_enabled"] == "false"


def test_adding_replicas_changes_only_initial_settings_of_a_primarys_conf():
    # initial.* settings are read when the DBMS is first created; a running primary's user data is
    # ignored by the AWS adapter, so adding replicas restarts no primary.
    for line in ("4.4", "5", "2025"):
        small = make_settings(version=VERSIONS[line], replicaCount=1)
        large = make_settings(version=VERSIONS[line], replicaCount=5)
        for core in ("core-1", "core-2", "core-3"):
            before = values(render_neo4j_conf(small, plan_topology(small), plan_topology(small).server(core)))
            after = values(render_neo4j_conf(large, plan_topology(large), plan_topology(large).server(core)))
            changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
            assert all(key.startswith("initial.") for key in changed), (line, core, changed)


@pytest.mark.parametrize("line", ["5", "2025"])
@pytest.mark.parametrize("cores, replicas", [(3, 0), (3, 2), (5, 2), (7, 3), (1, 2)])
def test_formation_waits_for_every_primary_and_asks_for_every_secondary(line, cores, replicas):
    # Operations Manual 5.x, clustering/databases.adoc: "If initial.dbms.default_primaries_count is
    # larger than dbms.cluster.minimum_initial_system_primaries_count, you are likely to get an initial
    # default database with fewer primaries than the default." The plan's fault tolerance must form.
    settings = make_settings(version=VERSIONS[line], coreCount=cores, replicaCount=replicas)
    topology = plan_topology(settings)
    for server in topology.servers:
        conf = values(render_neo4j_conf(settings, topology, server))
        assert conf["dbms.cluster.minimum_initial_system_primaries_count"] == str(cores), server.name
        assert conf["initial.dbms.default_primaries_count"] == str(cores)
        # Without it (default 0) secondaries host no user database: HAProxy's /cluster/available
        # answers 404 on every replica and backups from a secondary fail.
        assert conf["initial.dbms.default_secondaries_count"] == str(replicas)
        # clustering/servers.adoc: a server that joins later stays Free "until enabled"; we enable
        # them automatically ("set initial.dbms.automatically_enable_free_servers to true before
        # starting the deployment for the first time").
        assert conf["initial.dbms.automatically_enable_free_servers"] == "true"


@pytest.mark.parametrize("line, shape, tls", CASES)
@pytest.mark.parametrize("platform", ["aws", "docker"])
def test_file_imports_are_confined_to_the_import_directory(line, shape, tls, platform):
    # The shipped neo4j.conf: "This setting constrains all `LOAD CSV` import files to be under the
    # `import` directory. Remove or comment it out to allow files to be loaded from anywhere in the
    # filesystem; this introduces possible security problems." We replace that file, so we set it.
    settings = make_settings(version=VERSIONS[line], tls=tls, platform=platform, **SHAPES[shape])
    topology = plan_topology(settings)
    key = "dbms.directories.import" if line == "4.4" else "server.directories.import"
    for server in topology.servers:
        conf = values(render_neo4j_conf(settings, topology, server))
        assert conf.get(key) == "/var/lib/neo4j/import", (server.name, platform)
        assert conf.get("dbms.security.allow_csv_import_from_file_urls", "true") == "true"


@pytest.mark.parametrize("line", ["4.4", "5", "2025"])
def test_the_shipped_jvm_flags_and_debian_paths_are_kept(line):
    from components.neo4j_defaults import SHIPPED_JVM_FLAGS

    key = "dbms.jvm.additional" if line == "4.4" else "server.jvm.additional"
    text = confs(line, "cluster", "optional")["core-1"]
    jvm = [v for k, v in conf_entries(text) if k == key]
    overridden = {"-XX:MaxGCPauseMillis=200", "-XX:+ExitOnOutOfMemoryError"}
    assert set(SHIPPED_JVM_FLAGS[line]) <= set(jvm)
    assert overridden <= set(jvm)
    assert "-Djdk.tls.rejectClientInitiatedRenegotiation=true" in jvm
    assert "-XX:-OmitStackTraceInFastThrow" in jvm
    if line != "4.4":
        assert {"--add-opens=java.base/java.nio=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED"} <= set(jvm)
    assert len(jvm) == len(set(jvm)), "a JVM flag twice"
    conf = values(text)
    logs = "dbms.directories.logs" if line == "4.4" else "server.directories.logs"
    assert conf[logs] == "/var/log/neo4j"
    if line != "4.4":
        assert conf["server.logs.config"] == "/etc/neo4j/server-logs.xml"
        assert conf["server.logs.user.config"] == "/etc/neo4j/user-logs.xml"


def test_our_jvm_flag_replaces_the_shipped_flag_of_the_same_option():
    from components.neo4j_defaults import jvm_flags

    flags = jvm_flags("5", ("-XX:+OmitStackTraceInFastThrow", "-Dlog4j2.disable.jmx=false"))
    assert "-XX:-OmitStackTraceInFastThrow" not in flags and "-XX:+OmitStackTraceInFastThrow" in flags
    assert "-Dlog4j2.disable.jmx=true" not in flags and "-Dlog4j2.disable.jmx=false" in flags
    assert "--add-opens=java.base/java.io=ALL-UNNAMED" in flags


def test_2025_dialect_uses_the_renamed_endpoints_with_the_same_members_as_5():
    five, calendar = values(confs("5", "cluster", "optional")["core-3"]), values(
        confs("2025", "cluster", "optional")["core-3"])
    assert calendar["dbms.cluster.endpoints"] == five["dbms.cluster.discovery.v2.endpoints"]
    assert "dbms.cluster.discovery.version" not in calendar


def test_advertised_addresses_are_the_stable_dns_names():
    conf = values(confs("5", "cluster", "optional")["replica-1"])
    assert conf["server.bolt.advertised_address"] == "replica-1.test.neo4j.internal:7687"
    assert conf["server.cluster.raft.advertised_address"] == "replica-1.test.neo4j.internal:7000"
    assert conf["server.default_listen_address"] == "0.0.0.0"


def test_operations_guide_defaults_reach_the_conf():
    conf = values(confs("5", "cluster", "optional")["core-1"])
    # The shipped conf caps the logs' size too ("2 days 2G"); a day of heavy writes must not fill the disk.
    assert conf["db.tx_log.rotation.retention_policy"] == "2 days 2G"
    assert conf["db.tx_log.rotation.size"] == "256M"
    assert conf["db.logs.query.threshold"] == "1s"
    assert conf["dbms.security.auth_enabled"] == "true"
    jvm = [v for k, v in conf_entries(confs("5", "cluster", "optional")["core-1"]) if k == "server.jvm.additional"]
    assert "-XX:+UseG1GC" in jvm and "-XX:MaxGCPauseMillis=200" in jvm


def test_memory_in_the_conf_is_the_memory_plan():
    settings = make_settings(coreInstanceType="r6i.2xlarge", replicaInstanceType="r6i.large", replicaCount=1)
    topology = plan_topology(settings)
    core = values(render_neo4j_conf(settings, topology, topology.server("core-1")))
    replica = values(render_neo4j_conf(settings, topology, topology.server("replica-1")))
    assert (core["server.memory.heap.max_size"], core["server.memory.pagecache.size"]) == ("24g", "28g")
    assert (replica["server.memory.heap.max_size"], replica["server.memory.pagecache.size"]) == ("5g", "7g")
    assert core["server.memory.heap.initial_size"] == core["server.memory.heap.max_size"]


def test_memory_overrides_reach_the_conf():
    settings = make_settings(heapSize="10g", pageCacheSize="12g")
    topology = plan_topology(settings)
    conf = values(render_neo4j_conf(settings, topology, topology.servers[0]))
    assert (conf["server.memory.heap.max_size"], conf["server.memory.pagecache.size"]) == ("10g", "12g")


@pytest.mark.parametrize("tls, bolt, policies", [
    ("disabled", "DISABLED", set()),
    ("optional", "OPTIONAL", {"bolt", "https"}),
    ("required", "REQUIRED", {"bolt", "https", "cluster", "backup"}),
])
def test_tls_level_selects_the_policies(tls, bolt, policies):
    conf = values(confs("5", "cluster", tls)["core-1"])
    assert conf["server.bolt.tls_level"] == bolt
    assert {k.split(".")[3] for k in conf if k.startswith("dbms.ssl.policy.")} == policies
    assert conf["server.http.enabled"] == ("false" if tls == "required" else "true")
    if tls == "required":
        assert conf["dbms.ssl.policy.cluster.client_auth"] == "REQUIRE"


def test_metrics_and_backup_listener_only_on_enterprise():
    enterprise = values(confs("5", "standalone-enterprise", "optional")["core-1"])
    community = values(confs("5", "standalone-community", "optional")["core-1"])
    assert enterprise["server.metrics.prometheus.endpoint"] == "0.0.0.0:2004"
    assert enterprise["server.backup.listen_address"] == "0.0.0.0:6362"
    assert not any(k.startswith(("server.metrics", "server.backup")) for k in community)


def test_standalone_has_no_cluster_settings():
    conf = values(confs("5", "standalone-enterprise", "optional")["core-1"])
    assert not any(k.startswith(("server.cluster", "dbms.cluster", "initial.server")) for k in conf)


def test_missing_template_value_is_an_error_not_an_empty_string():
    settings = make_settings()
    topology = plan_topology(settings)
    conf = neo4j_conf_values(settings, topology, topology.servers[0])
    del conf["hostname"]
    with pytest.raises(jinja2.UndefinedError):
        render_template("neo4j/5/neo4j.conf.j2", conf=conf)


def test_every_server_gets_its_own_conf_and_user_data():
    settings = make_settings(coreCount=5, replicaCount=2)
    artifacts = aws_artifacts(settings, plan_topology(settings))
    for name in ["core-1", "core-5", "replica-2"]:
        assert f"server.bolt.advertised_address={name}.test.neo4j.internal:7687" in artifacts[name]["neo4j.conf"]
        assert artifacts[name]["neo4j.conf"].strip() in artifacts[name]["cloud-init.yaml"].replace("\n      ", "\n")


def test_health_endpoints_need_no_credentials_on_every_enterprise_server():
    for shape, expected in (("cluster", "false"), ("standalone-enterprise", "false"), ("standalone-community", None)):
        conf = values(confs("5", shape, "optional")["core-1"])
        assert conf.get("dbms.security.cluster_status_auth_enabled") == expected, shape


@pytest.mark.parametrize("line", ["5", "2025"])
def test_enterprise_servers_seed_s3_uris_through_the_cloud_seed_provider(line):
    # restore.py --cluster seeds every member with CREATE DATABASE … OPTIONS {seedURI: 's3://…'}.
    # Operations Manual (5.x, configuration/configuration-settings.adoc, dbms.databases.seed_from_uri_providers):
    # "If a seed source (URI scheme) is supported by multiple providers in the list, the first matching provider
    # will be used", default "S3SeedProvider,CloudSeedProvider"; and (seed-from-uri.adoc) "S3SeedProvider also
    # requires passing in credentials", "Neo4j on each server in the cluster must be configured with identical
    # keystores". CloudSeedProvider reads s3:// with the server's own AWS credentials (the instance role);
    # 2025.01 made it the only default ("changed from S3SeedProvider,CloudSeedProvider to CloudSeedProvider").
    from scripts.neo4j_ops.shared.versions import LINES

    for shape in ("cluster", "standalone-enterprise"):
        for text in confs(line, shape, "optional").values():
            assert values(text)["dbms.databases.seed_from_uri_providers"] == LINES[line].seed_providers
    for text in confs(line, "standalone-community", "optional").values():
        assert "dbms.databases.seed_from_uri_providers" not in values(text)


# --- LOAD CSV's Cypher IP blocklist (components/ip_blocklist.py) ------------------------------------------------

METADATA_V4, METADATA_V6 = "169.254.169.254", "fd00:ec2::254"


def blocklist_of(line: str, text: str) -> list[str]:
    return values(text)[IP_BLOCKLIST[line]].split(",")


def blocked(ranges: list[str], address: str) -> bool:
    import ipaddress
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in map(ipaddress.ip_network, ranges))


@pytest.mark.parametrize("line, shape, tls", CASES)
def test_every_server_blocks_load_csv_from_the_metadata_service_the_machine_and_private_ranges(line, shape, tls):
    # Neo4j KB, "Protecting against Server Side Request Forgery (SSRF)"; APOC manual: "Neo4j Community Edition:
    # Configure the internal.dbms.cypher_ip_blocklist setting." 4.4's jar names it unsupported.dbms.… instead.
    for name, text in confs(line, shape, tls).items():
        ranges = blocklist_of(line, text)
        for address in (METADATA_V4, "169.254.169.253", "127.0.0.1", "0.0.0.0", "10.42.1.10", "172.31.0.2",
                        "192.168.1.1", "::1", "fe80::1", METADATA_V6):
            assert blocked(ranges, address), f"{name} ({line}): {address} not in {ranges}"
        for address in ("8.8.8.8", "52.95.110.1", "2600:1f18::1"):  # public addresses stay loadable
            assert not blocked(ranges, address), f"{name} ({line}): public {address} blocked"


def test_the_4_4_line_names_the_setting_unsupported_and_5_and_2025_internal():
    assert IP_BLOCKLIST == {"4.4": "unsupported.dbms.cypher_ip_blocklist", "5": "internal.dbms.cypher_ip_blocklist",
                            "2025": "internal.dbms.cypher_ip_blocklist"}
    for line in VERSIONS:
        text = confs(line, "cluster", "required")["core-1"]
        assert [k for k, _ in conf_entries(text) if k.endswith("cypher_ip_blocklist")] == [IP_BLOCKLIST[line]]


def test_a_vpc_outside_the_private_ranges_is_blocked_too():
    from components.ip_blocklist import blocked_ranges
    assert blocked_ranges("10.42.0.0/16")[-1] == "fc00::/7"  # inside 10.0.0.0/8: not listed twice
    settings = make_settings(vpcCidr="100.64.0.0/16")
    topology = plan_topology(settings)
    ranges = blocklist_of(settings.version_line, render_neo4j_conf(settings, topology, topology.servers[0]))
    assert "100.64.0.0/16" in ranges and blocked(ranges, "100.64.3.4")


@pytest.mark.parametrize("line", ["5", "2025"])
def test_the_usage_data_report_is_off_unless_the_stack_opts_in(line):
    """Operations Manual 5.x and dev, configuration-settings.adoc, `dbms.usage_report.enabled` ("Usage data
    reporting", default true, since 5.20): Neo4j's default sends a report every 24 hours; ours is off."""
    def setting(**stack) -> str:
        settings = make_settings(version=VERSIONS[line], **stack)
        return values(render_neo4j_conf(settings, plan_topology(settings), plan_topology(settings).servers[0]))[
            "dbms.usage_report.enabled"]

    assert setting() == "false"
    assert setting(usageReport=True) == "true"


def test_the_44_conf_has_no_usage_report_setting():
    # The 4.4 manual's settings page lists no dbms.usage_report.* (strict validation would refuse it).
    assert not any(key.startswith("dbms.usage_report") for key in values(confs("4.4", "cluster", "optional")["core-1"]))
