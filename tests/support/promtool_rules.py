"""The harness of the promtool tests (tests/integration/test_monitoring_promtool.py, every alert; and
test_backup_alerts_promtool.py, the backup freshness alerts): the monitoring files rendered for a four-server test
stack (TARGETS, the operations guide's default THRESHOLDS), the real `promtool` run on them, the labels and series
of the alert scenarios (`Scenario`, `Expected`), and the promtool unit-test file written from them with each
alert's annotations expanded as Prometheus would. `backup_freshness_scenarios` is here because both modules use it."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from components.monitoring import AlertThresholds, ScrapeTarget, render_monitoring

# `make tools` installs Debian's prometheus package; missing promtool is a failure, not a skip.
PROMTOOL = shutil.which("promtool") or "promtool"

STACK = "teststack"
SCRAPE_INTERVAL_S = 15
THRESHOLDS = AlertThresholds()  # the operations guide defaults: 100, 0.90, 1s, 0.80, 10s
TARGETS = [
    ScrapeTarget("core-1", "primary", "core-1.neo4j.test", 2004, 9100),
    ScrapeTarget("core-2", "primary", "core-2.neo4j.test", 2004, 9100),
    ScrapeTarget("core-3", "primary", "core-3.neo4j.test", 2004, 9100),
    ScrapeTarget("replica-1", "secondary", "replica-1.neo4j.test", 2004, 9100),
]
BY_NAME = {t.name: t for t in TARGETS}


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

def render_into(directory: Path, version_line: str, *, haproxy: bool = True,
                targets: list[ScrapeTarget] = TARGETS) -> dict[str, str]:
    files = render_monitoring(
        stack=STACK, version_line=version_line, targets=targets, thresholds=THRESHOLDS,
        haproxy_target="haproxy.neo4j.test:8404" if haproxy else None,
        prometheus_url="http://localhost:9090", scrape_interval=f"{SCRAPE_INTERVAL_S}s")
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result


def check_metrics(text: str, name: str) -> None:
    """`promtool check metrics` reads `text` (a textfile for node exporter's collector, in the Prometheus text
    format) and finds nothing to say: it names, for one, a metric without help text."""
    from tests.conftest import require_tool  # a missing promtool fails as every tool test's does

    result = subprocess.run([require_tool("promtool"), "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------

def neo4j_labels(server: str) -> dict[str, str]:
    t = BY_NAME[server]
    return {"job": "neo4j", "instance": f"{t.address}:{t.metrics_port}", "server": t.name, "role": t.role,
            "stack": STACK}


def node_labels(server: str) -> dict[str, str]:
    t = BY_NAME[server]
    return {"job": "node", "instance": f"{t.address}:{t.node_exporter_port}", "server": t.name, "role": t.role,
            "stack": STACK}


def series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


@dataclass
class Expected:
    labels: dict[str, str]  # the alerting series' labels (no __name__, no severity)
    value: float  # the expression's value, as $value in the annotations


@dataclass
class Scenario:
    alert: str
    kind: str  # "fires" | "inside"
    eval_time: str
    input_series: list[tuple[str, str]]
    expected: list[Expected] = field(default_factory=list)
    interval: str = "1m"


BACKUP_SERVER = "replica-1"  # where the freshness metrics come from (any node exporter target will do)
HOUR, DAY = 3600, 86400


def backup_freshness_scenarios(drill_days: float = THRESHOLDS.restore_drill_max_age_days) -> list[Scenario]:
    """What the backup server's freshness check writes (scripts/neo4j_ops/backup/freshness.py): per database
    the completion time of the newest restorable backup, of the oldest one, and the last passed drill's time.
    Values are Unix times; promtool's time() is the evaluation time, so they are written relative to it."""
    labels = node_labels(BACKUP_SERVER)
    out = []
    at = 600  # eval_time 10m; earlier times are negative Unix times, which promtool takes as they are
    for kind, age_h in (("fires", 27), ("inside", 25)):
        out.append(Scenario(
            "Neo4jBackupTooOld", kind, "10m",
            [(series("neo4j_backup_last_complete_timestamp_seconds", {**labels, "database": "neo4j"}),
              f"{at - age_h * HOUR}x20"),
             (series("neo4j_backup_last_complete_timestamp_seconds", {**labels, "database": "system"}),
              f"{at - HOUR}x20")],
            [Expected({"stack": STACK, "database": "neo4j"}, age_h)] if kind == "fires" else []))
    for kind, age_d in (("fires", drill_days + 1), ("inside", drill_days - 1)):
        out.append(Scenario(
            "Neo4jRestoreDrillTooOld", kind, "10m",
            [(series("neo4j_restore_drill_last_success_timestamp_seconds", {**labels, "database": "neo4j"}),
              f"{round(at - age_d * DAY)}x20"),
             (series("neo4j_backup_first_complete_timestamp_seconds", {**labels, "database": "neo4j"}),
              f"{at - 30 * DAY}x20")],
            [Expected({"stack": STACK, "database": "neo4j"}, age_d)] if kind == "fires" else []))
    # Neo4jFailoverDrillTooOld: per stack, the newest passed `make drill` (failover_drills.py), guarded by the stack's
    # oldest backup (a new stack is not nagged before it could have drilled).
    failover_days = THRESHOLDS.failover_drill_max_age_days
    for kind, age_d in (("fires", failover_days + 1), ("inside", failover_days - 1)):
        out.append(Scenario(
            "Neo4jFailoverDrillTooOld", kind, "10m",
            [(series("neo4j_failover_drill_last_success_timestamp_seconds", labels), f"{round(at - age_d * DAY)}x20"),
             (series("neo4j_backup_first_complete_timestamp_seconds", {**labels, "database": "neo4j"}),
              f"{at - 60 * DAY}x20")],
            [Expected({"stack": STACK}, age_d)] if kind == "fires" else []))
    for kind, values in (("fires", "0x150"), ("inside", "0+60x150")):  # stuck at t=0 / refreshed every minute
        out.append(Scenario(
            "Neo4jBackupFreshnessUnknown", kind, "2h",
            [(series("neo4j_backup_freshness_last_run_timestamp_seconds", labels), values)],
            [Expected({"stack": STACK}, 2 * HOUR)] if kind == "fires" else []))
    return out


# --------------------------------------------------------------------------------------------
# Annotation expansion (the subset of Prometheus' templating the rules use)
# --------------------------------------------------------------------------------------------

def expand(template: str, labels: dict[str, str], value: float) -> str:
    def one(match: re.Match[str]) -> str:
        action = match.group(1).strip()
        if action.startswith("$labels."):
            return labels[action.removeprefix("$labels.")]
        printf = re.fullmatch(r'\$value \| printf "([^"]+)"', action)
        if printf:
            return printf.group(1) % value
        if action == "$value | humanizePercentage":
            return "%.4g%%" % (value * 100)  # Prometheus: fmt.Sprintf("%.4g%%", v*100)
        raise AssertionError(f"annotation uses unsupported template action {action!r}")

    return re.sub(r"\{\{(.*?)\}\}", one, template)


def promtool_tests(rules_file: Path, rules: dict, cases: list[Scenario]) -> dict:
    by_name = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    tests = []
    for case in cases:
        rule = by_name[case.alert]
        exp_alerts = []
        for exp in case.expected:
            exp_alerts.append({
                "exp_labels": {**exp.labels, **rule["labels"]},
                "exp_annotations": {k: expand(v, exp.labels, exp.value) for k, v in rule["annotations"].items()},
            })
        tests.append({
            "name": f"{case.alert} {case.kind}",
            "interval": case.interval,
            "input_series": [{"series": s, "values": v} for s, v in case.input_series],
            "alert_rule_test": [{"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": exp_alerts}],
        })
    return {"rule_files": [str(rules_file)], "evaluation_interval": f"{SCRAPE_INTERVAL_S}s", "tests": tests}
