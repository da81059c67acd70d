"""The rendered monitoring configuration against the real `promtool` (Debian's prometheus 2.42).

For every version line, and every metric naming a Neo4j server of that line can produce, a
promtool unit-test file is generated here: for each alert, one scenario beyond the threshold
(the alert fires, with its labels and expanded annotations) and one just inside it (no alert).
The input series use the names Neo4j's Prometheus endpoint exports, written down below from the
Operations Manual -- not taken from components/monitoring/ -- so a wrong name in the rules fails.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components.monitoring import (
    ALERT_JOBS,
    ALERT_NAMES,
    DATASOURCE_UID,
    GRAFANA_DASHBOARD,
    GRAFANA_DATASOURCE,
    PROMETHEUS_CONFIG,
    PROMETHEUS_RULES,
    VERSION_LINES,
    ScrapeTarget,
)
from tests.support.promtool_rules import (
    BY_NAME,
    PROMTOOL,
    SCRAPE_INTERVAL_S,
    STACK,
    TARGETS,
    THRESHOLDS,
    Expected,
    Scenario,
    backup_freshness_scenarios,
    check_metrics,
    neo4j_labels,
    node_labels,
    promtool,
    promtool_tests,
    render_into,
    series,
)

pytestmark = pytest.mark.integration

# What Neo4j's Prometheus endpoint exports (prefix `neo4j`, dots -> underscores, counters get
# `_total`). Operations Manual, Metrics reference: 4.4 names global metrics neo4j.<name> and
# database metrics neo4j.<db>.<name> unless metrics.namespaces.enabled=true (then neo4j.dbms.<name>
# and neo4j.database.<db>.<name>, the only form 5.x and 2025.x have). Raft leadership is
# causal_clustering.core.is_leader in 4.4 and cluster.raft.is_leader in 5.x/2025.x ("Raft metrics";
# `cluster.core.is_leader` was only ever a typo in the settings page's filter default).
_NAMESPACED = {
    "hits": "neo4j_dbms_page_cache_hits_total",
    "faults": "neo4j_dbms_page_cache_page_faults_total",
    "gc_time": "neo4j_dbms_vm_gc_time_{gc}_total",
    "tx_active": "neo4j_database_{db}_transaction_active",
    "last_tx": "neo4j_database_{db}_transaction_last_committed_tx_id_total",
}
_LEGACY_44 = {
    "hits": "neo4j_page_cache_hits_total",
    "faults": "neo4j_page_cache_page_faults_total",
    "gc_time": "neo4j_vm_gc_time_{gc}_total",
    "tx_active": "neo4j_{db}_transaction_active",
    "last_tx": "neo4j_{db}_transaction_last_committed_tx_id_total",
}
EXPORTER_NAMES = {
    ("4.4", "namespaces-on"): {**_NAMESPACED, "is_leader": "neo4j_database_{db}_causal_clustering_core_is_leader"},
    ("4.4", "namespaces-off"): {**_LEGACY_44, "is_leader": "neo4j_{db}_causal_clustering_core_is_leader"},
    ("5", "cluster.raft"): {**_NAMESPACED, "is_leader": "neo4j_database_{db}_cluster_raft_is_leader"},
    ("2025", "cluster.raft"): {**_NAMESPACED, "is_leader": "neo4j_database_{db}_cluster_raft_is_leader"},
}
assert {line for line, _ in EXPORTER_NAMES} == set(VERSION_LINES)


# --------------------------------------------------------------------------------------------
# Scenarios (labels, series and the backup freshness ones: tests/support/promtool_rules.py)
# --------------------------------------------------------------------------------------------

def machine_down_scenarios() -> list[Scenario]:
    """Neo4jMachineDown: node exporter's up == 0 for 1m (the one server-down alert on Community)."""
    servers = list(BY_NAME)
    return [Scenario(
        "Neo4jMachineDown", kind, "5m",
        [(series("up", node_labels(s)), core1 if s == "core-1" else "1x20") for s in servers],
        [Expected(node_labels("core-1"), 0)] if kind == "fires" else [])
        for kind, core1 in (("fires", "1 1 0x20"), ("inside", "1x20"))]


def disk_scenarios() -> list[Scenario]:
    """Neo4jDiskUsageHigh: 1 - avail/size > 0.80 for 10m; a full tmpfs never counts."""
    data = {"device": "/dev/nvme1n1", "fstype": "ext4", "mountpoint": "/var/lib/neo4j"}
    tmpfs = {"device": "tmpfs", "fstype": "tmpfs", "mountpoint": "/run"}
    out = []
    for kind, avail in (("fires", 15), ("inside", 21)):
        out.append(Scenario(
            "Neo4jDiskUsageHigh", kind, "15m",
            [(series("node_filesystem_avail_bytes", {**node_labels("core-1"), **data}), f"{avail}x20"),
             (series("node_filesystem_size_bytes", {**node_labels("core-1"), **data}), "100x20"),
             (series("node_filesystem_avail_bytes", {**node_labels("core-1"), **tmpfs}), "1x20"),
             (series("node_filesystem_size_bytes", {**node_labels("core-1"), **tmpfs}), "100x20")],
            [Expected({**node_labels("core-1"), **data}, 1 - avail / 100)] if kind == "fires" else []))
    return out


def machine_published_scenarios() -> list[Scenario]:
    """What setup-neo4j.sh publishes through node exporter's textfile collector: the boot failed at a
    step (fires at once), and a served certificate within 30 days of expiry (promtool's time() is the
    evaluation time in seconds: at 10m it is 600)."""
    out = []
    for kind, step, value in (("fires", "install_neo4j", "1"), ("inside", "done", "0")):
        labels = {**node_labels("core-2"), "step": step}
        out.append(Scenario("Neo4jBootFailed", kind, "5m",
                            [(series("neo4j_cluster_boot_failed", labels), f"{value}x20")],
                            [Expected(labels, 1)] if kind == "fires" else []))
    for kind, days in (("fires", 29.4), ("inside", 30.4)):
        labels = {**node_labels("core-3"), "scope": "bolt"}
        expiry = 600 + round(days * 86400)
        https = {**node_labels("core-3"), "scope": "https"}
        out.append(Scenario("Neo4jCertificateExpiresSoon", kind, "10m",
                            [(series("neo4j_cluster_certificate_expiry_seconds", labels), f"{expiry}x20"),
                             (series("neo4j_cluster_certificate_expiry_seconds", https), f"{600 + 700 * 86400}x20")],
                            [Expected(labels, (expiry - 600) / 86400)] if kind == "fires" else []))
    for kind, value in (("fires", "1"), ("inside", "0")):
        labels = {**node_labels("core-3"), "step": "fetch" if kind == "fires" else "done"}
        out.append(Scenario("Neo4jCertificateRenewalFailed", kind, "5m",
                            [(series("neo4j_cluster_certificate_renewal_failed", labels), f"{value}x20")],
                            [Expected(labels, 1)] if kind == "fires" else []))
    # Neo4jPinnedObjectRefused: refresh-backup-tooling.sh refused the archive in S3 (its sha256 is not the deploy's
    # tag): fires at once; 0 after an installed (or unchanged) archive.
    for kind, value in (("fires", "1"), ("inside", "0")):
        labels = {**node_labels("core-1"), "object": "backup-tooling"}
        out.append(Scenario("Neo4jPinnedObjectRefused", kind, "5m",
                            [(series("neo4j_cluster_pinned_object_refused", labels), f"{value}x20")],
                            [Expected(labels, 1)] if kind == "fires" else []))
    # Neo4jHaproxyConfigSyncFailed: haproxy-config-sync.sh on a node of the HAProxy pair (a listed node-job target,
    # role loadbalancer) failed at a step in every run for 5m (`haproxy -c` refused the deployed config): fires; a
    # failed run that the next one clears (an S3 read that failed once; the sync runs every 2 minutes) does not.
    haproxy_node = {"job": "node", "instance": "10.0.1.20:9100", "server": "haproxy-1", "role": "loadbalancer",
                    "stack": STACK}
    for kind, values in (("fires", "0 0 1x20"), ("inside", "0 1 1 0x20")):
        failed = {**haproxy_node, "step": "check"}
        out.append(Scenario("Neo4jHaproxyConfigSyncFailed", kind, "8m",
                            [(series("neo4j_cluster_haproxy_config_sync_failed", failed), values)],
                            [Expected(failed, 1)] if kind == "fires" else []))
    # Neo4jFailedLogins: the failed logins counted from security.log (neo4j-failed-logins.sh) grew by more than 10
    # within 10m. 3 a minute: increase() over 10m is 30; one every 2 minutes: 5.
    for kind, values, interval, value in (("fires", "0+3x20", "1m", 30.0), ("inside", "0+1x20", "2m", None)):
        labels = node_labels("core-1")
        out.append(Scenario("Neo4jFailedLogins", kind, "15m",
                            [(series("neo4j_cluster_failed_logins_total", labels), values)],
                            [Expected(labels, value)] if kind == "fires" else [], interval=interval))
    return out


def scenarios(names: dict[str, str]) -> list[Scenario]:
    def n(key: str, **kw: str) -> str:
        return names[key].format(**kw)

    out: list[Scenario] = []
    servers = list(BY_NAME)

    # Neo4jServerDown: up == 0 for 1m.
    for kind, core2 in (("fires", "0x20"), ("inside", "1x20")):
        out.append(Scenario(
            "Neo4jServerDown", kind, "5m",
            [(series("up", neo4j_labels(s)), core2 if s == "core-2" else "1x20") for s in servers],
            [Expected(neo4j_labels("core-2"), 0)] if kind == "fires" else []))

    out += machine_down_scenarios()

    # Neo4jOpenTransactionsHigh: > 100 for 5m (100 exactly is inside).
    for kind, active in (("fires", 150), ("inside", THRESHOLDS.open_transactions)):
        out.append(Scenario(
            "Neo4jOpenTransactionsHigh", kind, "10m",
            [(series(n("tx_active", db="neo4j"), neo4j_labels("core-1")), f"{active}x20"),
             (series(n("tx_active", db="system"), neo4j_labels("core-1")), "0x20"),
             (series(n("tx_active", db="neo4j"), neo4j_labels("core-2")), "3x20")],
            [Expected({**neo4j_labels("core-1"), "database": "neo4j"}, active)] if kind == "fires" else []))

    # Neo4jPageCacheHitRatioLow: hits / (hits + faults) < 0.90 for 10m. An idle server (no lookups:
    # 0/0) must stay quiet.
    for kind, hits, faults in (("fires", 850, 150), ("inside", 910, 90)):
        out.append(Scenario(
            "Neo4jPageCacheHitRatioLow", kind, "15m",
            [(series(n("hits"), neo4j_labels("core-1")), f"0+{hits}x20"),
             (series(n("faults"), neo4j_labels("core-1")), f"0+{faults}x20"),
             (series(n("hits"), neo4j_labels("core-2")), "500x20"),
             (series(n("faults"), neo4j_labels("core-2")), "40x20")],
            [Expected(neo4j_labels("core-1"), hits / (hits + faults))] if kind == "fires" else []))

    # Neo4jGcPauseLong: one G1 old-generation pause at 6m; young collections stay short and the
    # JDK 20+ "G1 Concurrent GC" bean (concurrent, not a pause) is ignored however large.
    for kind, pause_ms in (("fires", 1500), ("inside", 950)):
        out.append(Scenario(
            "Neo4jGcPauseLong", kind, "6m",
            [(series(n("gc_time", gc="g1_old_generation"), neo4j_labels("core-1")), f"0x5 {pause_ms}x15"),
             (series(n("gc_time", gc="g1_young_generation"), neo4j_labels("core-1")), "0+50x20"),
             (series(n("gc_time", gc="g1_concurrent_gc"), neo4j_labels("core-1")), "0+5000x20"),
             (series(n("gc_time", gc="g1_young_generation"), neo4j_labels("core-2")), "0+200x20")],
            [Expected({**neo4j_labels("core-1"), "gc": "g1_old_generation"}, pause_ms / 1000)]
            if kind == "fires" else []))

    out += disk_scenarios()
    out += machine_published_scenarios()
    out += backup_freshness_scenarios()

    # Neo4jReplicationLagHigh, sampled every 5s: the leader commits one transaction per sample.
    # A replica 45s behind (> threshold + 2 scrape intervals) fires; one exactly 10s behind (the
    # threshold) does not. The rules compare with the cluster's position threshold + one scrape
    # interval ago (25s): at 10m the leader had 115 then, the lagging replica has 111.
    step_s, samples = 5, 240
    for kind, lag_s in (("fires", 45), ("inside", int(THRESHOLDS.replication_lag_seconds))):
        k = lag_s // step_s
        lagging = f"0x{k} 1+1x{samples - k - 1}"
        offset_samples = (int(THRESHOLDS.replication_lag_seconds) + SCRAPE_INTERVAL_S) // step_s
        at = 600 // step_s
        behind = (at - offset_samples) - (at - k)
        out.append(Scenario(
            "Neo4jReplicationLagHigh", kind, "10m",
            [(series(n("last_tx", db="neo4j"), neo4j_labels("core-1")), f"0+1x{samples}"),
             (series(n("last_tx", db="neo4j"), neo4j_labels("core-2")), f"0+1x{samples}"),
             (series(n("last_tx", db="neo4j"), neo4j_labels("replica-1")), lagging),
             (series(n("last_tx", db="system"), neo4j_labels("core-1")), f"7x{samples}"),
             (series(n("last_tx", db="system"), neo4j_labels("replica-1")), f"7x{samples}")],
            [Expected({**neo4j_labels("replica-1"), "database": "neo4j"}, behind)] if kind == "fires" else [],
            interval=f"{step_s}s"))

    # Neo4jMultipleLeaders: more than one leader of a database for 1m.
    for kind, core2 in (("fires", "1x20"), ("inside", "0x20")):
        out.append(Scenario(
            "Neo4jMultipleLeaders", kind, "10m",
            [(series(n("is_leader", db="neo4j"), neo4j_labels("core-1")), "1x20"),
             (series(n("is_leader", db="neo4j"), neo4j_labels("core-2")), core2),
             (series(n("is_leader", db="neo4j"), neo4j_labels("core-3")), "0x20"),
             (series(n("is_leader", db="system"), neo4j_labels("core-1")), "0x20"),
             (series(n("is_leader", db="system"), neo4j_labels("core-3")), "1x20")],
            [Expected({"stack": STACK, "database": "neo4j"}, 2)] if kind == "fires" else []))
    return out


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version_line", VERSION_LINES)
def test_promtool_accepts_config_and_rules(tmp_path: Path, version_line: str) -> None:
    render_into(tmp_path, version_line)
    out = promtool("check", "config", tmp_path / PROMETHEUS_CONFIG)
    assert "1 rule files found" in out.stdout + out.stderr  # rules/*.yml resolved next to the config
    out = promtool("check", "rules", tmp_path / PROMETHEUS_RULES)
    assert f"{len(ALERT_NAMES)} rules found" in out.stdout + out.stderr


def test_promtool_accepts_config_without_haproxy(tmp_path: Path) -> None:
    files = render_into(tmp_path, "5", haproxy=False)
    assert "haproxy" not in yaml.safe_load(files[PROMETHEUS_CONFIG])["scrape_configs"].__repr__()
    promtool("check", "config", tmp_path / PROMETHEUS_CONFIG)


@pytest.mark.parametrize(("version_line", "naming"), sorted(EXPORTER_NAMES))
def test_promtool_unit_tests_every_alert(tmp_path: Path, version_line: str, naming: str) -> None:
    files = render_into(tmp_path, version_line)
    rules = yaml.safe_load(files[PROMETHEUS_RULES])
    cases = scenarios(EXPORTER_NAMES[version_line, naming])

    rendered_alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert rendered_alerts == set(ALERT_NAMES)
    for alert in ALERT_NAMES:  # every alert: one firing case, one just inside its threshold
        kinds = sorted(c.kind for c in cases if c.alert == alert)
        assert kinds == ["fires", "inside"], alert
    assert all(c.expected for c in cases if c.kind == "fires")
    assert not any(c.expected for c in cases if c.kind == "inside")

    test_file = tmp_path / f"neo4j-alerts.test.{version_line}.{naming}.yml"
    test_file.write_text(yaml.safe_dump(promtool_tests(tmp_path / PROMETHEUS_RULES, rules, cases), sort_keys=False))
    out = promtool("test", "rules", test_file)
    assert "SUCCESS" in out.stdout + out.stderr


def test_promtool_unit_tests_detect_a_wrong_expectation(tmp_path: Path) -> None:
    """The generated tests can fail: expecting no alert where one fires is reported."""
    files = render_into(tmp_path, "2025")
    rules = yaml.safe_load(files[PROMETHEUS_RULES])
    case = next(c for c in scenarios(EXPORTER_NAMES["2025", "cluster.raft"])
                if c.alert == "Neo4jMultipleLeaders" and c.kind == "fires")
    case.expected = []
    test_file = tmp_path / "wrong.yml"
    test_file.write_text(yaml.safe_dump(promtool_tests(tmp_path / PROMETHEUS_RULES, rules, [case])))
    result = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


# --------------------------------------------------------------------------------------------
# Community (no Neo4j metrics) and the Docker stack (no node exporter)
# --------------------------------------------------------------------------------------------

# Neo4j Community has no metrics endpoint (Operations Manual: metrics are an Enterprise Edition
# feature); on AWS its servers still run prometheus-node-exporter.
COMMUNITY_TARGETS = [ScrapeTarget(t.name, t.role, t.address, None, t.node_exporter_port) for t in TARGETS]
# The Docker stack's Neo4j containers run no node exporter.
DOCKER_TARGETS = [ScrapeTarget(t.name, t.role, t.address, t.metrics_port, None) for t in TARGETS]


def rule_names(files: dict[str, str]) -> set[str]:
    return {r["alert"] for g in yaml.safe_load(files[PROMETHEUS_RULES])["groups"] for r in g["rules"]}


@pytest.mark.parametrize("version_line", VERSION_LINES)
def test_community_stack_alerts_on_node_exporter_only(tmp_path: Path, version_line: str) -> None:
    files = render_into(tmp_path, version_line, targets=COMMUNITY_TARGETS)
    config = yaml.safe_load(files[PROMETHEUS_CONFIG])
    assert {j["job_name"] for j in config["scrape_configs"]} == {"node", "haproxy"}
    assert not any(t.endswith(":2004") for j in config["scrape_configs"] for g in j["static_configs"]
                   for t in g["targets"])
    promtool("check", "config", tmp_path / PROMETHEUS_CONFIG)
    promtool("check", "rules", tmp_path / PROMETHEUS_RULES)

    rules = yaml.safe_load(files[PROMETHEUS_RULES])
    assert rule_names(files) == {"Neo4jMachineDown", "Neo4jDiskUsageHigh", "Neo4jBootFailed",
                                 "Neo4jCertificateExpiresSoon", "Neo4jCertificateRenewalFailed",
                                 "Neo4jPinnedObjectRefused", "Neo4jHaproxyConfigSyncFailed", "Neo4jBackupTooOld",
                                 "Neo4jRestoreDrillTooOld", "Neo4jFailoverDrillTooOld", "Neo4jBackupFreshnessUnknown",
                                 "Neo4jFailedLogins"}
    for rule in (r for g in rules["groups"] for r in g["rules"]):  # neo4j_cluster_*: the machine's own
        assert 'job="neo4j"' not in rule["expr"] and not any(
            n.startswith("neo4j_") and not n.startswith(("neo4j_cluster_", "neo4j_backup_", "neo4j_restore_drill_",
                                                          "neo4j_failover_drill_"))
            for n in metric_names(rule["expr"])), \
            rule["alert"]

    # The server-down alert of Community: node exporter down fires, up stays quiet; disks as on Enterprise.
    cases = machine_down_scenarios() + disk_scenarios() + machine_published_scenarios() + backup_freshness_scenarios()
    test_file = tmp_path / "community.test.yml"
    test_file.write_text(yaml.safe_dump(promtool_tests(tmp_path / PROMETHEUS_RULES, rules, cases), sort_keys=False))
    out = promtool("test", "rules", test_file)
    assert "SUCCESS" in out.stdout + out.stderr


def test_community_machine_down_test_can_fail(tmp_path: Path) -> None:
    files = render_into(tmp_path, "5", targets=COMMUNITY_TARGETS)
    rules = yaml.safe_load(files[PROMETHEUS_RULES])
    (case, _) = machine_down_scenarios()
    case.expected = []  # node exporter down, yet "no alert" expected: promtool reports the difference
    test_file = tmp_path / "wrong.yml"
    test_file.write_text(yaml.safe_dump(promtool_tests(tmp_path / PROMETHEUS_RULES, rules, [case])))
    result = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_docker_stack_scrapes_no_node_exporter(tmp_path: Path) -> None:
    files = render_into(tmp_path, "5", targets=DOCKER_TARGETS)
    config = yaml.safe_load(files[PROMETHEUS_CONFIG])
    assert {j["job_name"] for j in config["scrape_configs"]} == {"neo4j", "haproxy"}
    promtool("check", "config", tmp_path / PROMETHEUS_CONFIG)
    out = promtool("check", "rules", tmp_path / PROMETHEUS_RULES)
    node_alerts = sum(1 for job in ALERT_JOBS.values() if job == "node")  # no node exporter there: none of them
    assert f"{len(ALERT_NAMES) - node_alerts} rules found" in out.stdout + out.stderr
    assert "Neo4jDiskUsageHigh" not in rule_names(files) and "Neo4jMachineDown" not in rule_names(files)


def test_nothing_to_scrape_is_still_a_valid_config(tmp_path: Path) -> None:
    render_into(tmp_path, "2025", haproxy=False, targets=[ScrapeTarget("core-1", "primary", "core-1.test", None, None)])
    promtool("check", "config", tmp_path / PROMETHEUS_CONFIG)
    out = promtool("check", "rules", tmp_path / PROMETHEUS_RULES)
    assert "0 rules found" in out.stdout + out.stderr


# --------------------------------------------------------------------------------------------
# Dashboard
# --------------------------------------------------------------------------------------------

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan"}
STANDARD_METRICS = {"up", "node_cpu_seconds_total", "node_filesystem_avail_bytes", "node_filesystem_size_bytes"}


def metric_names(expr: str) -> set[str]:
    """Metric names (or __name__ regexes) an expression selects; a sanity check, not a parser."""
    names = set(re.findall(r'__name__=~"([^"]+)"', expr))
    text = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    text = re.sub(r'"[^"]*"', " ", text)  # string arguments (label_replace)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(r"\boffset\s+\w+", " ", text)
    for match in re.finditer(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?", text):
        if match.group(2) is None and match.group(1) not in _KEYWORDS:
            names.add(match.group(1))
    return names


@pytest.mark.parametrize("targets", ["full", "community", "docker"])
@pytest.mark.parametrize("version_line", VERSION_LINES)
def test_dashboard_parses_and_queries_what_the_rules_query(tmp_path: Path, version_line: str, targets: str) -> None:
    chosen = {"full": TARGETS, "community": COMMUNITY_TARGETS, "docker": DOCKER_TARGETS}[targets]
    files = render_into(tmp_path, version_line, targets=chosen)
    scraped = {j["job_name"] for j in yaml.safe_load(files[PROMETHEUS_CONFIG])["scrape_configs"]}
    dashboard = json.loads(files[GRAFANA_DASHBOARD])
    rules = yaml.safe_load(files[PROMETHEUS_RULES])
    datasource = yaml.safe_load(files[GRAFANA_DATASOURCE])["datasources"][0]

    alert_metrics = set().union(*(metric_names(r["expr"]) for g in rules["groups"] for r in g["rules"]))
    exprs = []
    for panel in dashboard["panels"]:
        if panel["type"] == "text":  # the note on what is not there: no query
            assert "targets" not in panel
            continue
        assert panel["datasource"]["uid"] == datasource["uid"] == DATASOURCE_UID
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            exprs.append(target["expr"])
            # A panel draws only what Prometheus scrapes here.
            assert set(re.findall(r'job="(\w+)"', target["expr"])) <= scraped, panel["title"]
            for name in metric_names(target["expr"]):
                assert name in alert_metrics or name in STANDARD_METRICS or name.startswith("haproxy_"), \
                    f"panel {panel['title']!r} queries {name!r}, which no alert rule reads"
    assert any("haproxy_" in e for e in exprs)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])

    # Every panel query is valid PromQL: promtool parses it as a recording rule.
    recording = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:panel_{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    (tmp_path / "dashboard-queries.yml").write_text(yaml.safe_dump(recording))
    promtool("check", "rules", tmp_path / "dashboard-queries.yml")


def test_metric_name_sanity_check_sees_names() -> None:
    assert metric_names('rate(foo_total{job="x"}[5m]) / on (a) group_left () bar') == {"foo_total", "bar"}
    assert metric_names('label_replace({__name__=~"a_.+_b"} offset 1m, "d", "$1", "__name__", "a_(.+)_b")') \
        == {"a_.+_b"}


def test_failed_logins_count_across_a_rotated_security_log(tmp_path: Path) -> None:
    """Neo4j rotates security.log: the count of the current file drops to 0, which increase() takes as a counter
    reset. 44 old failures then 2 new ones is no alert; 44 then 12 new ones within 10 minutes is."""
    files = render_into(tmp_path, "5")
    rules = yaml.safe_load(files[PROMETHEUS_RULES])
    labels = node_labels("core-1")
    cases = [Scenario("Neo4jFailedLogins", "inside", "15m",
                      [(series("neo4j_cluster_failed_logins_total", labels), "40 41 42 43 44 44 44 0 1 2 2x10")]),
             Scenario("Neo4jFailedLogins", "fires", "15m",
                      [(series("neo4j_cluster_failed_logins_total", labels), "40 41 42 43 44 44 44 0 4 8 12x10")],
                      [Expected(labels, 12.0)])]
    test_file = tmp_path / "failed-logins.test.yml"
    test_file.write_text(yaml.safe_dump(promtool_tests(tmp_path / PROMETHEUS_RULES, rules, cases), sort_keys=False))
    result = promtool("test", "rules", test_file)
    assert result.returncode == 0, result.stdout + result.stderr


SECURITY_LOG = """\
2026-12-04 17:50:01.100+0000 INFO  [neo4j]: logged in
2026-12-04 17:50:02.200+0000 ERROR [neo4j]: failed to log in: invalid principal or credentials
2026-12-04 17:50:03.300+0000 ERROR [mallory]: failed to log in: invalid principal or credentials
2026-12-04 17:50:04.400+0000 ERROR [neo4j]: failed to log in: too many failed attempts
2026-12-04 17:50:05.500+0000 INFO  [neo4j]: logged off
"""


def test_the_rendered_failed_login_counter_writes_what_the_alert_reads(tmp_path: Path) -> None:
    """The script a server runs every minute, against a security.log in Neo4j's format (the Operations Manual:
    Neo4j "logs an error containing a timestamp and the message failed to log in: too many failed attempts in
    the security.log"); its output passes `promtool check metrics` and names the series the rule reads."""
    from components.aws.user_data import render_failed_logins
    from tests.conftest import make_settings

    script = tmp_path / "neo4j-failed-logins.sh"
    script.write_text(render_failed_logins(make_settings(), "core-1")["neo4j-failed-logins.sh"])
    script.chmod(0o755)
    log, textfiles = tmp_path / "security.log", tmp_path / "textfile"
    env = {"PATH": "/usr/bin:/bin", "NEO4J_SECURITY_LOG": str(log), "TEXTFILE_DIR": str(textfiles)}

    subprocess.run([str(script)], check=True, env=env, timeout=30)  # no log yet: 0, and said so
    metrics = (textfiles / "neo4j_failed_logins.prom").read_text()
    assert "neo4j_cluster_failed_logins_total 0\n" in metrics and "neo4j_cluster_security_log_readable 0\n" in metrics

    log.write_text(SECURITY_LOG)
    subprocess.run([str(script)], check=True, env=env, timeout=30)
    metrics = (textfiles / "neo4j_failed_logins.prom").read_text()
    assert "neo4j_cluster_failed_logins_total 3\n" in metrics and "neo4j_cluster_security_log_readable 1\n" in metrics
    assert "mallory" not in metrics  # user names are chosen by whoever logs in: never a label
    assert [p.name for p in textfiles.iterdir()] == ["neo4j_failed_logins.prom"]  # no temporary file left
    check_metrics(metrics, "neo4j_failed_logins.prom")
    rules = render_into(tmp_path / "rules", "5")[PROMETHEUS_RULES]
    assert "neo4j_cluster_failed_logins_total{" in rules
