"""neo4j:backupSchedule, backupFullSchedule, backupDiffSchedule: systemd's calendar grammar, per line and edition."""
from __future__ import annotations

import pytest

from components.settings import ConfigError, load_settings
from tests.conftest import make_settings, stack_config


def test_defaults_are_weekly_full_and_differentials_every_15_minutes():
    settings = make_settings()
    assert settings.backup_full_schedule == "Sun *-*-* 02:00:00 UTC"
    assert settings.backup_diff_schedule == "*-*-* *:00/15:00 UTC"


def test_prod_keeps_15_minutes_and_dev_takes_hourly():
    assert load_settings("prod", stack_config("prod")).backup_diff_schedule == "*-*-* *:00/15:00 UTC"
    assert load_settings("dev", stack_config("dev")).backup_diff_schedule == "*-*-* *:00:00 UTC"


def test_off_means_no_differentials():
    assert make_settings(backupDiffSchedule="off").backup_diff_schedule == ""


@pytest.mark.parametrize("key, value", [("backupDiffSchedule", "*-*-* *:60:00"), ("backupFullSchedule", "Sun 25:00"),
                                        ("backupSchedule", "2026-01-01 02:00"), ("backupFullSchedule", "weekly Mars")])
def test_a_schedule_systemd_would_refuse_is_one_line_naming_key_value_and_grammar(key, value):
    overrides = {key: value}
    if key == "backupSchedule":
        overrides.update(edition="community", coreCount=1, replicaCount=0, acceptLicense=False)
    with pytest.raises(ConfigError) as error:
        make_settings(**overrides)
    [line] = error.value.problems
    assert line.startswith(f"neo4j:{key}: got {value!r}; allowed: ") and "systemd calendar event" in line
    assert "\n" not in line


@pytest.mark.parametrize("overrides, key", [
    ({"version": "4.4.44", "backupDiffSchedule": "hourly"}, "backupDiffSchedule"),
    ({"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False,
      "backupFullSchedule": "daily"}, "backupFullSchedule"),
    ({"backupSchedule": "*-*-* 03:00:00 UTC"}, "backupSchedule"),
])
def test_a_schedule_the_line_does_not_run_is_refused_not_ignored(overrides, key):
    with pytest.raises(ConfigError, match=f"neo4j:{key}: got .* which do not use it"):
        make_settings(**overrides)
