"""`make plan` states each stack's recovery point objective from its backup schedules."""
from __future__ import annotations

import pytest

from components.settings import load_settings
from scripts.neo4j_ops.plan.summary import recovery_point_line
from tests.conftest import make_settings, stack_config


@pytest.mark.parametrize("settings, line", [
    (lambda: load_settings("prod", stack_config("prod")),
     "Recovery point objective: 15 min (differentials every 15 min, full every 7 days)"),
    (lambda: load_settings("dev", stack_config("dev")),
     "Recovery point objective: 1 h (differentials every 1 h, full every 7 days)"),
    (lambda: make_settings(backupDiffSchedule="off", backupFullSchedule="daily"),
     "Recovery point objective: 1 day (full backups every 1 day; differentials off)"),
    (lambda: make_settings(edition="community", coreCount=1, replicaCount=0, acceptLicense=False),
     "Recovery point objective: 1 day (one backup every 1 day, neo4j:backupSchedule; Community dumps offline)"),
    (lambda: make_settings(version="4.4.44", backupSchedule="*-*-* 00/12:00:00 UTC"),
     "Recovery point objective: 12 h (one backup every 12 h, neo4j:backupSchedule; 4.4 has no --restore-until)"),
])
def test_the_recovery_point_objective_is_the_longest_wait_between_backups(settings, line):
    assert recovery_point_line(settings()) == line
