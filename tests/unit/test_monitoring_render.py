"""components/monitoring.py, rendered in memory: targets, labels, thresholds, names per version line."""
from __future__ import annotations

import fnmatch
import json
import re
from pathlib import PurePosixPath

import pytest
import yaml

from components.monitoring import (
    ALERT_NAMES,
    DATASOURCE_UID,
    GRAFANA_DASHBOARD,
    GRAFANA_DASHBOARD_PROVIDER,
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_DATASOURCE,
    METRICS_FILTER_PATTERNS,
    MONITORING_NODE_PATHS,
    PROMETHEUS_CONFIG,
    PROMETHEUS_RULES,
    REQUIRED_METRICS,
    VERSION_LINES,
    AlertThresholds,
    ScrapeTarget,
    metrics_filter_patterns,
    render_monitoring,
    required_neo4j_settings,
)

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
    for name in ("neo4j_database_neo4j_cluster_raft_is_leader", "neo4j_database_neo4j_cluster_core_is_leader"):
        assert re.fullmatch(regex5, name)
    assert re.fullmatch(regex2025, "neo4j_database_neo4j_cluster_raft_is_leader")
    assert not re.fullmatch(regex2025, "neo4j_database_neo4j_cluster_core_is_leader")
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


@pytest.mark.parametrize("version_line", VERSION_LINES)
def test_required_settings_let_every_rule_metric_through(version_line: str) -> None:
    settings = required_neo4j_settings(version_line)
    ns = "" if version_line == "4.4" else "server."
    assert settings == {
        f"{ns}metrics.enabled": "true",
        f"{ns}metrics.prometheus.enabled": "true",
        f"{ns}metrics.prometheus.endpoint": "0.0.0.0:2004",
        f"{ns}metrics.filter": ",".join(metrics_filter_patterns(version_line)),
    }
    patterns = METRICS_FILTER_PATTERNS[version_line]
    for metric in REQUIRED_METRICS[version_line]:
        assert any(fnmatch.fnmatchcase(metric, p) for p in patterns), metric


def test_the_neo4j_conf_filter_covers_what_the_rules_read() -> None:
    """components/render.py writes metrics.filter into neo4j.conf; it must include the rules' metrics."""
    render_module = pytest.importorskip("components.render")
    for version_line in VERSION_LINES:
        patterns = render_module.METRICS_FILTER[version_line].split(",")
        for metric in REQUIRED_METRICS[version_line]:
            assert any(fnmatch.fnmatchcase(metric, p) for p in patterns), (version_line, metric)


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
