"""components/monitoring/, rendered in memory: targets, labels, thresholds, names per version line."""
from __future__ import annotations

import fnmatch
import json
import re
from pathlib import PurePosixPath

try:  # Python 3.11+ (sre_parse is its deprecated alias)
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants
    import sre_parse

import pytest
import yaml

from components.monitoring import (
    ALERT_ALSO_NEEDS,
    ALERT_JOBS,
    ALERT_NAMES,
    DATASOURCE_UID,
    GRAFANA_DASHBOARD,
    GRAFANA_DASHBOARD_PROVIDER,
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_DATASOURCE,
    METRICS_FILTER,
    MONITORING_NODE_PATHS,
    PROMETHEUS_CONFIG,
    PROMETHEUS_RULES,
    VERSION_LINES,
    AlertThresholds,
    ScrapeTarget,
    metrics_filter,
    render_monitoring,
)
from components.ports import PORTS
from components.render import render_cluster, render_neo4j_conf
from components.topology import plan_topology
from tests.conftest import make_settings

TARGETS = [
    ScrapeTarget("core-1", "primary", "core-1.neo4j.internal", 2004, 9100),
    ScrapeTarget("core-2", "primary", "10.0.1.12", 2004, 9100),
    ScrapeTarget("core-3", "primary", "core-3.neo4j.internal", 2004, 9100),
    ScrapeTarget("replica-1", "secondary", "replica-1.neo4j.internal", 2005, 9101),
]


def render(version_line: str = "5", **overrides) -> dict[str, str]:
    kwargs = dict(stack="prod", version_line=version_line, targets=TARGETS, thresholds=AlertThresholds(),
                  haproxy_target="haproxy.neo4j.internal:8404", prometheus_url="http://localhost:9090")
    kwargs.update(overrides)
    return render_monitoring(**kwargs)


def rules_of(files: dict[str, str]) -> dict[str, dict]:
    doc = yaml.safe_load(files[PROMETHEUS_RULES])
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}


def jobs_of(files: dict[str, str]) -> dict[str, dict]:
    return {j["job_name"]: j for j in yaml.safe_load(files[PROMETHEUS_CONFIG])["scrape_configs"]}


def name_regexes(expr: str) -> list[str]:
    return re.findall(r'__name__=~"([^"]+)"', expr)


@pytest.mark.parametrize("version_line", VERSION_LINES)
def test_renders_the_five_files(version_line: str) -> None:
    files = render(version_line)
    assert set(files) == {
        "prometheus/prometheus.yml", "prometheus/rules/neo4j-alerts.yml",
        "grafana/provisioning/datasources/prometheus.yml", "grafana/provisioning/dashboards/neo4j.yml",
        "grafana/dashboards/neo4j-cluster.json"}
    assert set(MONITORING_NODE_PATHS) == set(files)
    assert all(text.endswith("\n") for text in files.values())
    assert render(version_line) == files  # deterministic


def test_every_server_is_scraped_with_server_role_stack_labels() -> None:
    config = yaml.safe_load(render()[PROMETHEUS_CONFIG])
    assert config["global"]["scrape_interval"] == "15s"
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"neo4j", "node", "haproxy"}
    for job, port_of in (("neo4j", lambda t: t.metrics_port), ("node", lambda t: t.node_exporter_port)):
        groups = jobs[job]["static_configs"]
        assert len(groups) == len(TARGETS)
        for target, group in zip(TARGETS, groups, strict=True):
            assert group["targets"] == [f"{target.address}:{port_of(target)}"]
            assert group["labels"] == {"server": target.name, "role": target.role, "stack": "prod"}
    assert jobs["neo4j"]["metrics_path"] == "/metrics"
    haproxy = jobs["haproxy"]
    assert haproxy["metrics_path"] == "/metrics"
    assert haproxy["static_configs"] == [{"targets": ["haproxy.neo4j.internal:8404"],
                                          "labels": {"server": "haproxy", "role": "loadbalancer", "stack": "prod"}}]


def test_no_haproxy_job_without_haproxy_target() -> None:
    files = render(haproxy_target=None)
    assert set(jobs_of(files)) == {"neo4j", "node"}
    titles = [p["title"] for p in json.loads(files[GRAFANA_DASHBOARD])["panels"]]
    assert not any("HAProxy" in t for t in titles)


def test_ipv6_addresses_are_bracketed() -> None:
    files = render(targets=[ScrapeTarget("core-1", "primary", "fd00::12", 2004, 9100)], haproxy_target="[fd00::2]:8404")
    jobs = jobs_of(files)
    assert jobs["neo4j"]["static_configs"][0]["targets"] == ["[fd00::12]:2004"]
    assert jobs["node"]["static_configs"][0]["targets"] == ["[fd00::12]:9100"]
    assert jobs["haproxy"]["static_configs"][0]["targets"] == ["[fd00::2]:8404"]


def test_rule_files_are_relative_to_the_config_and_match_the_node_layout() -> None:
    config = yaml.safe_load(render()[PROMETHEUS_CONFIG])
    assert config["rule_files"] == ["rules/*.yml"]
    # Locally: rendered next to each other; on the node: /etc/prometheus/{prometheus.yml,rules/...}.
    for config_path, rules_path in ((PROMETHEUS_CONFIG, PROMETHEUS_RULES),
                                    (MONITORING_NODE_PATHS[PROMETHEUS_CONFIG],
                                     MONITORING_NODE_PATHS[PROMETHEUS_RULES])):
        relative = PurePosixPath(rules_path).relative_to(PurePosixPath(config_path).parent)
        assert fnmatch.fnmatch(str(relative), config["rule_files"][0])
    assert MONITORING_NODE_PATHS[PROMETHEUS_RULES] == "/etc/prometheus/rules/neo4j-alerts.yml"


@pytest.mark.parametrize("version_line", VERSION_LINES)
def test_every_alert_has_severity_summary_description_and_for(version_line: str) -> None:
    rules = rules_of(render(version_line))
    assert list(rules) == list(ALERT_NAMES)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert set(rule["annotations"]) == {"summary", "description"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
    assert rules["Neo4jServerDown"]["labels"]["severity"] == "critical"
    assert rules["Neo4jMultipleLeaders"]["labels"]["severity"] == "critical"
    assert 'up{job="neo4j"} == 0' in rules["Neo4jServerDown"]["expr"]


def test_default_thresholds_are_the_operations_guide() -> None:
    t = AlertThresholds()
    assert (t.open_transactions, t.page_cache_hit_ratio, t.gc_pause_seconds, t.disk_used_ratio,
            t.replication_lag_seconds) == (100, 0.90, 1.0, 0.80, 10.0)
    rules = rules_of(render())
    assert rules["Neo4jOpenTransactionsHigh"]["expr"].rstrip().endswith("> 100")
    assert rules["Neo4jPageCacheHitRatioLow"]["expr"].rstrip().endswith("< 0.9")
    assert rules["Neo4jGcPauseLong"]["expr"].rstrip().endswith("/ 1000 > 1")
    assert rules["Neo4jDiskUsageHigh"]["expr"].rstrip().endswith("> 0.8")
    assert "offset 25s" in rules["Neo4jReplicationLagHigh"]["expr"]  # 10s + one 15s scrape interval
    assert rules["Neo4jMultipleLeaders"]["expr"].rstrip().endswith("> 1")


def test_custom_thresholds_reach_rules_annotations_and_dashboard() -> None:
    thresholds = AlertThresholds(open_transactions=250, page_cache_hit_ratio=0.95, gc_pause_seconds=2.5,
                                 disk_used_ratio=0.7, replication_lag_seconds=30)
    files = render(thresholds=thresholds, scrape_interval="30s")
    rules = rules_of(files)
    assert rules["Neo4jOpenTransactionsHigh"]["expr"].rstrip().endswith("> 250")
    assert "more than 250 open transactions" in rules["Neo4jOpenTransactionsHigh"]["annotations"]["description"]
    assert rules["Neo4jPageCacheHitRatioLow"]["expr"].rstrip().endswith("< 0.95")
    assert "threshold 95%" in rules["Neo4jPageCacheHitRatioLow"]["annotations"]["description"]
    assert rules["Neo4jGcPauseLong"]["expr"].rstrip().endswith("> 2.5")
    assert "threshold 2.5s" in rules["Neo4jGcPauseLong"]["annotations"]["description"]
    assert rules["Neo4jDiskUsageHigh"]["expr"].rstrip().endswith("> 0.7")
    assert "more than 70% used" in rules["Neo4jDiskUsageHigh"]["annotations"]["description"]
    assert "offset 60s" in rules["Neo4jReplicationLagHigh"]["expr"]  # 30s + one 30s scrape interval
    assert "exceeds 30s" in rules["Neo4jReplicationLagHigh"]["annotations"]["description"]
    assert yaml.safe_load(files[PROMETHEUS_CONFIG])["global"]["scrape_interval"] == "30s"

    panels = {p["title"]: p for p in json.loads(files[GRAFANA_DASHBOARD])["panels"]}
    def steps(title):
        return [s["value"] for s in panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert steps("Open transactions") == [None, 250]
    assert steps("Page cache hit ratio") == [None, 0.95]
    assert steps("Disk used") == [None, 0.7]


def test_fractional_lag_threshold_gives_a_millisecond_offset() -> None:
    rules = rules_of(render(thresholds=AlertThresholds(replication_lag_seconds=2.5)))
    assert "offset 17500ms" in rules["Neo4jReplicationLagHigh"]["expr"]


def test_version_specific_leader_metric() -> None:
    r44 = rules_of(render("4.4"))["Neo4jMultipleLeaders"]["expr"]
    r5 = rules_of(render("5"))["Neo4jMultipleLeaders"]["expr"]
    r2025 = rules_of(render("2025"))["Neo4jMultipleLeaders"]["expr"]
    assert "causal_clustering_core_is_leader" in r44 and "cluster_" not in r44.replace("causal_clustering", "")
    assert "causal_clustering" not in r5 and "causal_clustering" not in r2025
    (regex5,) = name_regexes(r5)
    (regex2025,) = name_regexes(r2025)
    (regex44,) = name_regexes(r44)
    for regex in (regex5, regex2025):
        assert re.fullmatch(regex, "neo4j_database_neo4j_cluster_raft_is_leader")
        # Only in a wrong default of server.metrics.filter on the settings page, never exported.
        assert not re.fullmatch(regex, "neo4j_database_neo4j_cluster_core_is_leader")
    for name in ("neo4j_database_neo4j_causal_clustering_core_is_leader",
                 "neo4j_neo4j_causal_clustering_core_is_leader"):
        assert re.fullmatch(regex44, name)


def test_44_rules_accept_both_metric_namespace_modes_and_5_only_namespaced() -> None:
    exprs44 = " ".join(r["expr"] for r in rules_of(render("4.4")).values())
    exprs5 = " ".join(r["expr"] for r in rules_of(render("5")).values())
    on, off = "neo4j_dbms_page_cache_hits_total", "neo4j_page_cache_hits_total"
    assert any(re.fullmatch(rx, on) for rx in name_regexes(exprs44))
    assert any(re.fullmatch(rx, off) for rx in name_regexes(exprs44))
    assert on in exprs5 and off not in exprs5
    tx_on, tx_off = "neo4j_database_system_transaction_active", "neo4j_system_transaction_active"
    assert any(re.fullmatch(rx, tx_on) for rx in name_regexes(exprs44))
    assert any(re.fullmatch(rx, tx_off) for rx in name_regexes(exprs44))
    assert any(re.fullmatch(rx, tx_on) for rx in name_regexes(exprs5))
    assert not any(re.fullmatch(rx, tx_off) for rx in name_regexes(exprs5))


def test_gc_rule_ignores_concurrent_collectors() -> None:
    (regex, *_) = name_regexes(rules_of(render("2025"))["Neo4jGcPauseLong"]["expr"])
    assert re.fullmatch(regex, "neo4j_dbms_vm_gc_time_g1_young_generation_total")
    assert re.fullmatch(regex, "neo4j_dbms_vm_gc_time_g1_old_generation_total")
    assert not re.fullmatch(regex, "neo4j_dbms_vm_gc_time_g1_concurrent_gc_total")
    assert not re.fullmatch(regex, "neo4j_dbms_vm_gc_count_g1_young_generation_total")


def test_disk_rule_watches_real_filesystems_or_the_given_mount() -> None:
    default = rules_of(render())["Neo4jDiskUsageHigh"]["expr"]
    assert 'job="node"' in default and 'fstype!~"tmpfs|' in default and "mountpoint=" not in default
    pinned = rules_of(render(data_mountpoint="/var/lib/neo4j"))["Neo4jDiskUsageHigh"]["expr"]
    assert pinned.count('mountpoint="/var/lib/neo4j"') == 2


# ------------------------------------------------------------------------------------------
# The metrics filter lets through every series the rules and the dashboard read
# ------------------------------------------------------------------------------------------

# Neo4j Operations Manual, "Metrics reference" (neo4j/docs-operations,
# modules/ROOT/pages/monitoring/metrics/reference.adoc; 4.4 @139efb54 with its partials
# neo4j-metrics/{available,cc,jvm}-metrics.adoc, 5.x @c973c8d5, dev (2025.x) @711c81b1), written down
# here, not taken from components/monitoring/:
#   4.4: "Global metrics have the following name format: `<user-configured-prefix>.<metric-name>` if
#        metrics.namespaces.enabled is `false`, or `<user-configured-prefix>.dbms.<metric-name>` if the
#        setting is `true`." Database metrics: "`<user-configured-prefix>.<database-name>.<metric-name>`
#        ... or `<user-configured-prefix>.database.<database-name>.<metric-name>`".
#   5.x, 2025.x: "`<user-configured-prefix>.dbms.<metric-name>`" and
#        "`<user-configured-prefix>.database.<database-name>.<metric-name>`"; the prefix defaults to `neo4j`.
#   Prometheus endpoint (5.x monitoring/metrics/expose.adoc): "Dots (.) are replaced with underscores
#        (_)" and "Depending on the metric type, a postfix is added": `_total` on counters.
# Each entry: (global or database, name after the prefix, type as the reference gives it).
_PAGE_CACHE_GC_TX = [
    ("global", "page_cache.hits", "counter"),  # "The total number of page hits happened in the page cache."
    ("global", "page_cache.page_faults", "counter"),  # "The total number of page faults in the page cache."
    ("global", "vm.gc.time.<gc>", "counter"),  # "Accumulated garbage collection time in milliseconds."
    ("database", "transaction.active", "gauge"),  # "The number of currently active transactions."
    ("database", "transaction.last_committed_tx_id", "counter"),  # "The ID of the last committed transaction."
]
DOCUMENTED = {
    # cc-metrics.adoc: "<prefix>.causal_clustering.core.is_leader|Is this server the leader? ... (gauge)"
    "4.4": [*_PAGE_CACHE_GC_TX, ("database", "causal_clustering.core.is_leader", "gauge")],
    # Raft metrics: "<prefix>.cluster.raft.is_leader|Is this server the leader? ... (gauge)"
    "5": [*_PAGE_CACHE_GC_TX, ("database", "cluster.raft.is_leader", "gauge")],
    "2025": [*_PAGE_CACHE_GC_TX, ("database", "cluster.raft.is_leader", "gauge")],
}
NAMESPACE_MODES = {"4.4": (False, True), "5": (True,), "2025": (True,)}
DATABASES = ("neo4j", "system")  # what `.+` (a database name) stands for when a selector is spelled out


def documented_series(line: str) -> list[tuple[re.Pattern[str], str]]:
    """(Prometheus name pattern, Neo4j dotted name template) of every documented series of the line."""
    out = []
    for scope, name, kind in DOCUMENTED[line]:
        for namespaced in NAMESPACE_MODES[line]:
            if scope == "global":
                dotted = f"neo4j.dbms.{name}" if namespaced else f"neo4j.{name}"
            else:
                dotted = f"neo4j.database.<db>.{name}" if namespaced else f"neo4j.<db>.{name}"
            prometheus = dotted.replace(".", "_") + ("_total" if kind == "counter" else "")
            pattern = re.escape(prometheus).replace("<db>", "(?P<db>[A-Za-z0-9]+)") \
                .replace("<gc>", "(?P<gc>[a-z0-9_]+)")
            out.append((re.compile(pattern), dotted))
    return out


def neo4j_glob(pattern: str, name: str) -> bool:
    """Neo4j's metrics.filter element: "A simple globbing pattern that can use `*` and `?`." (5.x
    configuration settings), matched against the whole dotted name."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name) is not None


def passes_filter(conf_filter: str, name: str) -> bool:
    return any(neo4j_glob(p, name) for p in conf_filter.split(","))


def spellings(regex: str) -> set[str]:
    """Every string a selector regex accepts, with `.+` (a database name) spelled as DATABASES.
    Alternatives and optional parts are expanded; anything else is refused, so no accepted name
    escapes the check."""
    c = sre_constants

    def walk(items) -> set[str]:
        out = {""}
        for op, av in items:
            if op is c.LITERAL:
                options = {chr(av)}
            elif op is c.SUBPATTERN:
                options = walk(av[-1])
            elif op is c.BRANCH:
                options = set().union(*(walk(alt) for alt in av[1]))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and list(av[2]) == [(c.ANY, None)] and av[0] == 1:
                options = set(DATABASES)
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and (av[0], av[1]) == (0, 1):
                options = {""} | walk(av[2])
            else:
                raise AssertionError(f"selector {regex!r}: cannot spell out {op} {av}")
            out = {a + b for a in out for b in options}
        return out

    return walk(sre_parse.parse(regex))


def neo4j_selectors(expr: str) -> set[str]:
    """The Neo4j series an expression selects: `__name__=~` regexes and bare `neo4j_…{` names."""
    # neo4j_cluster_* are the machine's own (setup-neo4j.sh, through node exporter), not Neo4j's; so are
    # neo4j_backup_*, neo4j_restore_drill_* and neo4j_failover_drill_* (the backup server's freshness check, from the
    # bucket).
    return set(re.findall(r'__name__=~"([^"]+)"', expr)) | set(re.findall(
        r'(?<![\w"])(neo4j_(?!cluster_|backup_|restore_drill_|failover_drill_)\w+)\{', expr))


def queries_of(files: dict[str, str]) -> dict[str, str]:
    """{alert or panel: expression} of the rendered rules and dashboard."""
    out = {f"alert {name}": rule["expr"] for name, rule in rules_of(files).items()}
    for panel in json.loads(files[GRAFANA_DASHBOARD])["panels"]:
        for target in panel.get("targets", []):
            out[f"panel {panel['title']!r} {target['refId']}"] = target["expr"]
    return out


def test_spellings_expand_alternatives_and_options() -> None:
    assert spellings("neo4j_(?:dbms_)?page_cache_hits_total") == {
        "neo4j_page_cache_hits_total", "neo4j_dbms_page_cache_hits_total"}
    assert spellings("neo4j_database_.+_cluster_(?:raft|core)_is_leader") == {
        f"neo4j_database_{db}_cluster_{kind}_is_leader" for db in DATABASES for kind in ("raft", "core")}
    with pytest.raises(AssertionError, match="cannot spell out"):
        spellings("neo4j_[a-z]+_x")


def test_neo4j_glob_is_a_whole_name_match_with_star_and_question_mark() -> None:
    assert neo4j_glob("*cluster.raft.is_leader", "neo4j.database.neo4j.cluster.raft.is_leader")
    assert not neo4j_glob("*cluster.raft.is_leader", "neo4j.database.neo4j.cluster.raft.is_leader_x")
    assert not neo4j_glob("*cluster.raft.is_leader", "neo4j.database.neo4j.cluster.core.is_leader")
    assert neo4j_glob("neo4j.vm.gc.time.?1*", "neo4j.vm.gc.time.g1_old_generation")
    assert not neo4j_glob("*page_cache.hits", "neo4j.dbms.page_cacheXhits")  # `.` is literal


@pytest.mark.parametrize("version_line", VERSION_LINES)
def test_every_series_an_alert_or_panel_reads_is_documented_and_passes_the_filter(version_line: str) -> None:
    """Each name a rule or panel selector accepts is a documented series of the line, and the
    servers' metrics filter (the value neo4j.conf gets) lets it through."""
    conf_filter = metrics_filter(version_line)
    documented = documented_series(version_line)
    checked = set()
    for where, expr in queries_of(render(version_line)).items():
        for selector in neo4j_selectors(expr):
            for name in spellings(selector):
                found = [(m, dotted) for pattern, dotted in documented if (m := pattern.fullmatch(name))]
                assert found, f"{where} reads {name}, which Neo4j {version_line} does not export"
                for match, dotted in found:
                    neo4j_name = dotted.replace("<db>", match.groupdict().get("db") or "") \
                        .replace("<gc>", match.groupdict().get("gc") or "")
                    assert passes_filter(conf_filter, neo4j_name), \
                        f"{where} reads {name}: metrics.filter does not let {neo4j_name} through"
                    checked.add(dotted)
    # Every documented series is read by something: the check above saw all of them.
    assert checked == {dotted for _, dotted in documented}


def test_the_filter_check_catches_a_series_the_filter_drops() -> None:
    """The 5.x filter without the raft leadership gauge no longer covers Neo4jMultipleLeaders."""
    narrowed = ",".join(p for p in METRICS_FILTER["5"] if p != "*cluster.raft.is_leader")
    assert passes_filter(metrics_filter("5"), "neo4j.database.neo4j.cluster.raft.is_leader")
    assert not passes_filter(narrowed, "neo4j.database.neo4j.cluster.raft.is_leader")


@pytest.mark.parametrize("version_line", VERSION_LINES)
def test_neo4j_conf_gets_the_monitoring_filter(version_line: str) -> None:
    version = {"4.4": "4.4.44", "5": "5.26.30", "2025": "2025.10.1"}[version_line]
    settings = make_settings(version=version)
    topology = plan_topology(settings)
    conf = render_neo4j_conf(settings, topology, topology.servers[0])
    key = "metrics.filter" if version_line == "4.4" else "server.metrics.filter"
    assert f"\n{key}={metrics_filter(version_line)}\n" in conf
    assert metrics_filter(version_line) == ",".join(METRICS_FILTER[version_line])


# ------------------------------------------------------------------------------------------
# Only what exists is scraped, alerted on and drawn
# ------------------------------------------------------------------------------------------

COMMUNITY_AWS = [ScrapeTarget("core-1", "primary", "core-1.neo4j.internal", None, 9100)]
ENTERPRISE_DOCKER = [ScrapeTarget(t.name, t.role, t.address, t.metrics_port, None) for t in TARGETS]


def panel_titles(files: dict[str, str]) -> list[str]:
    return [p["title"] for p in json.loads(files[GRAFANA_DASHBOARD])["panels"]]


def test_alert_jobs_name_every_alert_and_only_scrape_jobs() -> None:
    assert tuple(ALERT_JOBS) == ALERT_NAMES
    assert set(ALERT_JOBS.values()) == {"neo4j", "node"}
    for name, rule in rules_of(render()).items():
        assert f'job="{ALERT_JOBS[name]}"' in rule["expr"], name
        other = ({"neo4j", "node"} - {ALERT_JOBS[name]}).pop()
        assert f'job="{other}"' not in rule["expr"], name


def test_without_metrics_endpoints_no_neo4j_job_alert_or_panel() -> None:
    files = render(targets=COMMUNITY_AWS)
    assert set(jobs_of(files)) == {"node", "haproxy"}
    assert list(rules_of(files)) == ["Neo4jMachineDown", "Neo4jDiskUsageHigh", "Neo4jBootFailed",
                                     "Neo4jCertificateExpiresSoon", "Neo4jCertificateRenewalFailed",
                                     "Neo4jPinnedObjectRefused", "Neo4jHaproxyConfigSyncFailed",
                                     "Neo4jBackupTooOld", "Neo4jRestoreDrillTooOld", "Neo4jFailoverDrillTooOld",
                                     "Neo4jBackupFreshnessUnknown", "Neo4jFailedLogins"]
    assert 'job="neo4j"' not in files[PROMETHEUS_RULES] + files[GRAFANA_DASHBOARD]
    ours = " ".join(queries_of(files).values())
    for prefix in ("neo4j_cluster_", "neo4j_backup_", "neo4j_restore_drill_", "neo4j_failover_drill_"):
        ours = ours.replace(prefix, "")
    assert "neo4j_" not in ours
    titles = panel_titles(files)
    assert titles[0] == "What this dashboard shows"
    assert set(titles[1:]) == {"Machines up", "Disk used", "CPU busy", "HAProxy active servers per backend",
                               "HAProxy current sessions per frontend"}
    note = json.loads(files[GRAFANA_DASHBOARD])["panels"][0]
    assert note["type"] == "text" and "Enterprise" in note["options"]["content"]


def test_without_node_exporters_no_node_job_alert_or_panel() -> None:
    files = render(targets=ENTERPRISE_DOCKER)
    assert set(jobs_of(files)) == {"neo4j", "haproxy"}
    assert set(rules_of(files)) == {a for a, job in ALERT_JOBS.items() if job == "neo4j"}
    assert 'job="node"' not in files[PROMETHEUS_RULES] + files[GRAFANA_DASHBOARD]
    assert not {"Machines up", "Disk used", "CPU busy"} & set(panel_titles(files))
    assert "node exporter" in json.loads(files[GRAFANA_DASHBOARD])["panels"][0]["options"]["content"]


def test_with_nothing_to_scrape_the_files_are_still_valid_and_empty() -> None:
    files = render(targets=[ScrapeTarget("core-1", "primary", "h", None, None)], haproxy_target=None)
    assert yaml.safe_load(files[PROMETHEUS_CONFIG])["scrape_configs"] == []
    assert yaml.safe_load(files[PROMETHEUS_RULES])["groups"][0]["rules"] == []
    assert [p["type"] for p in json.loads(files[GRAFANA_DASHBOARD])["panels"]] == ["text"]


def test_a_full_stack_dashboard_has_no_note() -> None:
    assert "What this dashboard shows" not in panel_titles(render())


def kept(written: object, read_back: object) -> bool:
    """Every key and value of `written` is in `read_back` (which may add the schema's defaults)."""
    if isinstance(written, dict):
        return isinstance(read_back, dict) and all(k in read_back and kept(v, read_back[k]) for k, v in written.items())
    if isinstance(written, list):
        return isinstance(read_back, list) and len(written) == len(read_back) and all(map(kept, written, read_back))
    return written == read_back


@pytest.mark.parametrize("targets", [TARGETS, COMMUNITY_AWS, ENTERPRISE_DOCKER], ids=["full", "community", "docker"])
def test_the_provisioned_dashboard_reads_back_whole_as_grafanas_typed_schema(targets) -> None:
    # Grafana's own models (grafana-foundation-sdk) decode the file: a key outside the schema would be
    # dropped on the way back, a panel or query of an unknown kind would decode as an untyped one.
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models import prometheus, text, timeseries
    from grafana_foundation_sdk.models.dashboard import Dashboard

    register_default_plugins()
    document = json.loads(render(targets=targets)[GRAFANA_DASHBOARD])
    board = Dashboard.from_json(document)
    assert kept(document, json.loads(JSONEncoder().encode(board)))
    options = {"timeseries": timeseries.Options, "text": text.Options}
    for panel in board.panels:
        assert isinstance(panel.options, options[panel.type_val]), panel.title
        assert all(isinstance(target, prometheus.Dataquery) for target in panel.targets or []), panel.title
    assert document["schemaVersion"] == Dashboard().schema_version


@pytest.mark.parametrize(("platform", "edition", "jobs"), [
    ("aws", "enterprise", {"neo4j", "node", "haproxy"}),
    ("aws", "community", {"node", "haproxy"}),
    ("docker", "enterprise", {"neo4j", "haproxy"}),
    ("docker", "community", {"haproxy"}),
])
def test_prometheus_scrapes_what_the_edition_and_platform_run(platform: str, edition: str, jobs: set) -> None:
    """Metrics are Enterprise-only; node exporter runs on the AWS servers, not in the Neo4j containers."""
    shape = {} if edition == "enterprise" else {"coreCount": 1, "replicaCount": 0, "acceptLicense": False}
    settings = make_settings(platform=platform, edition=edition, **shape)
    topology = plan_topology(settings)
    files = render_cluster(settings, topology).files["monitoring"]
    scraped = jobs_of(files)
    assert set(scraped) == jobs
    # AWS discovers the servers (EC2 service discovery, test_monitoring_discovery.py); Docker lists them.
    ports = {job: ({str(d["port"]) for d in scraped[job]["ec2_sd_configs"]} if "ec2_sd_configs" in scraped[job]
                   else {t.rsplit(":", 1)[1] for g in scraped[job]["static_configs"] for t in g["targets"]})
             for job in scraped}
    if "neo4j" in jobs:
        assert ports["neo4j"] == {str(PORTS.server.metrics)}
        if platform == "docker":
            assert len(scraped["neo4j"]["static_configs"]) == len(topology.servers)
    if "node" in jobs:
        assert ports["node"] == {str(PORTS.server.node_exporter)}
    assert {ALERT_JOBS[name] for name in rules_of(files)} == jobs - {"haproxy"}


@pytest.mark.parametrize("haproxy", [True, False])
def test_the_haproxy_config_sync_alert_is_rendered_only_where_haproxy_nodes_run_the_sync(haproxy: bool) -> None:
    # haproxy-config-sync.sh runs on the HAProxy nodes alone: an AWS stack without HAProxy (neo4j:haproxy false)
    # has no machine that could ever publish its series, so its alert is left out; every other node alert stays.
    settings = make_settings(platform="aws", haproxy=haproxy)
    files = render_cluster(settings, plan_topology(settings)).files["monitoring"]
    rules = rules_of(files)
    assert ("haproxy" in jobs_of(files)) is haproxy
    assert ("Neo4jHaproxyConfigSyncFailed" in rules) is haproxy
    assert set(rules) | ({"Neo4jHaproxyConfigSyncFailed"} if not haproxy else set()) == set(ALERT_NAMES)


def test_alerts_that_also_need_a_job_read_series_of_their_own_job() -> None:
    assert set(ALERT_ALSO_NEEDS) <= set(ALERT_NAMES)
    for name, needed in ALERT_ALSO_NEEDS.items():
        assert needed != ALERT_JOBS[name] and needed in {"neo4j", "node", "haproxy"}, name
    # Without that job's targets the alert goes; with them, it stays.
    assert "Neo4jHaproxyConfigSyncFailed" not in rules_of(render(haproxy_target=None))
    assert "Neo4jHaproxyConfigSyncFailed" in rules_of(render())


def test_grafana_provisioning() -> None:
    files = render(prometheus_url="http://prometheus.internal:9090")
    datasource = yaml.safe_load(files[GRAFANA_DATASOURCE])
    assert datasource["apiVersion"] == 1
    (ds,) = datasource["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus.internal:9090"
    assert ds["uid"] == DATASOURCE_UID and ds["access"] == "proxy" and ds["isDefault"] is True
    provider = yaml.safe_load(files[GRAFANA_DASHBOARD_PROVIDER])
    (p,) = provider["providers"]
    assert p["type"] == "file" and p["options"]["path"] == GRAFANA_DASHBOARDS_DIR
    assert MONITORING_NODE_PATHS[GRAFANA_DASHBOARD].startswith(GRAFANA_DASHBOARDS_DIR + "/")

    dashboard = json.loads(files[GRAFANA_DASHBOARD])
    assert dashboard["uid"] == "neo4j-prod" and len(dashboard["uid"]) <= 40
    assert all(t["datasource"]["uid"] == DATASOURCE_UID for p in dashboard["panels"] for t in p["targets"])
    long_stack = render(stack="s" * 60)
    assert len(json.loads(long_stack[GRAFANA_DASHBOARD])["uid"]) <= 40


@pytest.mark.parametrize(("overrides", "message"), [
    ({"version_line": "3.5"}, "version_line"),
    ({"targets": []}, "at least one"),
    ({"targets": [ScrapeTarget("core-1", "leader", "h", 2004, 9100)]}, "role"),
    ({"targets": [ScrapeTarget("core-1", "primary", "h", 2004, 9100)] * 2}, "duplicate"),
    ({"targets": [ScrapeTarget("core 1", "primary", "h", 2004, 9100)]}, "server name"),
    ({"targets": [ScrapeTarget("core-1", "primary", "h\"x", 2004, 9100)]}, "address"),
    ({"targets": [ScrapeTarget("core-1", "primary", "h", 0, 9100)]}, "port"),
    ({"targets": [ScrapeTarget("core-1", "primary", "h", None, 70000)]}, "port"),
    ({"stack": "a b"}, "stack"),
    ({"prometheus_url": "localhost:9090"}, "prometheus_url"),
    ({"scrape_interval": "15"}, "duration"),
    ({"scrape_interval": "5m"}, "between"),
    ({"haproxy_target": "haproxy"}, "host:port"),
    ({"data_mountpoint": "var/lib"}, "data_mountpoint"),
])
def test_invalid_input_is_rejected(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(**overrides)


@pytest.mark.parametrize("kwargs", [
    {"open_transactions": 0}, {"page_cache_hit_ratio": 1.0}, {"disk_used_ratio": 0},
    {"gc_pause_seconds": 0}, {"replication_lag_seconds": -1},
])
def test_invalid_thresholds_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        AlertThresholds(**kwargs)
