"""The backup freshness alerts against the real `promtool test rules`: boundaries (26 hours exactly is inside),
a database never drilled, a new stack, the drill age from neo4j:restoreDrillMaxAgeDays, and metrics that are
absent altogether. The every-alert fires/inside cases are in test_monitoring_promtool.py (the shared harness:
tests/support/promtool_rules.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components.monitoring import PROMETHEUS_RULES
from components.render import render_cluster
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.promtool_rules import (
    DAY,
    HOUR,
    PROMTOOL,
    STACK,
    Expected,
    Scenario,
    backup_freshness_scenarios,
    check_metrics,
    node_labels,
    promtool,
    promtool_tests,
    render_into,
    series,
)

pytestmark = pytest.mark.integration

AT = 600  # every case evaluates at 10m: promtool's time() is 600 there
LABELS = node_labels("replica-1")


def run_cases(tmp_path: Path, cases: list[Scenario], rules_text: str | None = None,
              evaluation_interval: str | None = None) -> subprocess.CompletedProcess:
    if rules_text is None:
        files = render_into(tmp_path, "5")
    else:
        (tmp_path / PROMETHEUS_RULES).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / PROMETHEUS_RULES).write_text(rules_text)
    rules = yaml.safe_load((tmp_path / PROMETHEUS_RULES).read_text() if rules_text else files[PROMETHEUS_RULES])
    document = promtool_tests(tmp_path / PROMETHEUS_RULES, rules, cases)
    if evaluation_interval:  # weeks of evaluations at 15s would take promtool minutes
        document["evaluation_interval"] = evaluation_interval
    test_file = tmp_path / "backup-alerts.test.yml"
    test_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120)


def backup_at(seconds_ago: int, database: str = "neo4j") -> tuple[str, str]:
    return (series("neo4j_backup_last_complete_timestamp_seconds", {**LABELS, "database": database}),
            f"{AT - seconds_ago}x20")


# "Never" is 0, the Unix epoch: decades ago on a real server, but promtool's clock starts at 0. Cases with a
# 0 run at day 60, sampled hourly (and evaluated hourly), so that 0 is 60 days ago.
LATE, LATE_SAMPLES = 60 * DAY, 60 * 24


def drill_case(kind: str, drill_age: float | None, first_backup_age: float) -> Scenario:
    at, samples, step = (AT, 20, "1m") if drill_age is not None else (LATE, LATE_SAMPLES, "1h")
    drill_value = 0 if drill_age is None else round(at - drill_age * DAY)  # 0: never (the check writes 0)
    return Scenario(
        "Neo4jRestoreDrillTooOld", kind, f"{at // 60}m",
        [(series("neo4j_restore_drill_last_success_timestamp_seconds", {**LABELS, "database": "neo4j"}),
          f"{drill_value}x{samples}"),
         (series("neo4j_backup_first_complete_timestamp_seconds", {**LABELS, "database": "neo4j"}),
          f"{round(at - first_backup_age * DAY)}x{samples}")],
        [Expected({"stack": STACK, "database": "neo4j"}, (at - drill_value) / DAY)] if kind == "fires" else [],
        interval=step)


def test_a_backup_exactly_26_hours_old_is_inside_and_one_minute_more_fires(tmp_path):
    cases = [
        Scenario("Neo4jBackupTooOld", "inside", "10m", [backup_at(26 * HOUR)]),
        Scenario("Neo4jBackupTooOld", "fires", "10m", [backup_at(26 * HOUR + 60)],
                 [Expected({"stack": STACK, "database": "neo4j"}, 26 + 1 / 60)]),
    ]
    out = run_cases(tmp_path, cases)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_database_with_no_backup_at_all_fires(tmp_path):
    # freshness.py writes 0 for an expected database without a restorable backup.
    fresh = (series("neo4j_backup_last_complete_timestamp_seconds", {**LABELS, "database": "neo4j"}),
             f"{LATE - HOUR}x{LATE_SAMPLES}")
    cases = [Scenario("Neo4jBackupTooOld", "fires", f"{LATE // 60}m",
                      [(series("neo4j_backup_last_complete_timestamp_seconds", {**LABELS, "database": "system"}),
                        f"0x{LATE_SAMPLES}"), fresh],
                      [Expected({"stack": STACK, "database": "system"}, LATE / HOUR)], interval="1h")]
    out = run_cases(tmp_path, cases, evaluation_interval="1h")
    assert out.returncode == 0, out.stdout + out.stderr


def test_drill_boundaries_never_drilled_and_a_new_stack(tmp_path):
    cases = [
        drill_case("inside", 8, 30),  # exactly the limit
        drill_case("fires", 8 + 1 / 24, 30),
    ]
    out = run_cases(tmp_path, cases)
    assert out.returncode == 0, out.stdout + out.stderr
    cases = [
        drill_case("fires", None, 30),  # never drilled, backups for a month
        drill_case("inside", None, 2),  # a new stack: backups for two days, the first drill is yet to come
    ]
    out = run_cases(tmp_path, cases, evaluation_interval="1h")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_drill_age_comes_from_the_stack_key(tmp_path):
    settings = make_settings(restoreDrillMaxAgeDays=14)
    rules_text = render_cluster(settings, plan_topology(settings)).files["monitoring"][PROMETHEUS_RULES]
    rule = next(r for g in yaml.safe_load(rules_text)["groups"] for r in g["rules"]
                if r["alert"] == "Neo4jRestoreDrillTooOld")
    assert "> 14" in rule["expr"] and "more than 14" in rule["annotations"]["description"]
    cases = [case for case in backup_freshness_scenarios(drill_days=14) if case.alert == "Neo4jRestoreDrillTooOld"]
    cases += [drill_case("inside", 10, 30)]  # fired with the default 8, not with 14
    out = run_cases(tmp_path, cases, rules_text)
    assert out.returncode == 0, out.stdout + out.stderr


def test_absent_freshness_metrics_fire_after_half_an_hour(tmp_path):
    other = (series("node_filesystem_avail_bytes", {**LABELS, "mountpoint": "/"}), "1x60")
    cases = [
        Scenario("Neo4jBackupFreshnessUnknown", "fires", "40m", [other], [Expected({"job": "node"}, 1)]),
        Scenario("Neo4jBackupFreshnessUnknown", "inside", "20m", [other]),  # pending, not yet firing
    ]
    out = run_cases(tmp_path, cases)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_wrong_expectation_is_reported(tmp_path):
    out = run_cases(tmp_path, [Scenario("Neo4jBackupTooOld", "inside", "10m", [backup_at(27 * HOUR)])])
    assert out.returncode != 0  # 27 hours fires: expecting silence fails


def test_the_rules_parse(tmp_path):
    render_into(tmp_path, "5")
    promtool("check", "rules", tmp_path / PROMETHEUS_RULES)


def test_what_the_freshness_check_and_the_drill_record_write_for_node_exporter_passes_promtool():
    """The backup server's textfile collector reads both files in the Prometheus text format: `promtool check
    metrics` reads each and finds nothing to say (a database name that needs escaping included; a drill record with
    and without figures)."""
    from scripts.neo4j_ops.backup import failover_drills, freshness

    texts = {
        "freshness": freshness.render([freshness.Freshness("neo4j", 1_765_000_000, 1_764_000_000, 1_764_500_000),
                                       freshness.Freshness('odd"name\\db', 0, 0, 0)], 1_765_100_000),
        "drill, none yet": failover_drills.metrics("prod", None, None),
        "drill": failover_drills.metrics(
            "prod", {"finished": "2026-12-01T10:00:00Z", "figures": {
                field: 1.5 for field, _ in failover_drills.FIGURES.values()} | {"lost_writes": None}},
            {"finished": "2026-11-01T10:00:00Z"}),
    }
    assert 'database="odd\\"name\\\\db"' in texts["freshness"]
    for name, text in texts.items():
        check_metrics(text, name)
