"""Every unit that runs the backup job (full, differential, the restore drill) takes one lock: neo4j-admin's
memory budget on the job's host (sizing.admin_budget) is for one of them at a time."""
from __future__ import annotations

import re

import pytest

from components.aws.user_data import BACKUP_LOCK_FILE, render_backup_job
from components.topology import plan_topology
from tests.conftest import make_settings

VARIANTS = {
    "community": {"edition": "community", "coreCount": 1, "replicaCount": 0},
    "enterprise-4.4": {"edition": "enterprise", "version": "4.4.46"},
    "enterprise-5.26": {"edition": "enterprise", "version": "5.26.30"},
    "enterprise-2025": {"edition": "enterprise", "version": "2025.10.1"},
}


def job_starts(files: dict[str, str]) -> dict[str, str]:
    """Each service's ExecStart line that runs the backup launcher for neo4j-admin's work. --freshness only reads
    the bucket's manifests (no neo4j-admin, no memory budget) and must not wait behind a long backup."""
    return {name: line for name, text in files.items() if name.endswith(".service")
            for line in text.splitlines()
            if line.startswith("ExecStart=") and "neo4j-backup.sh" in line and "--freshness" not in line}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_backup_job_unit_runs_under_the_one_lock(variant):
    settings = make_settings(**VARIANTS[variant])
    files = render_backup_job(settings, plan_topology(settings))
    starts = job_starts(files)
    assert any("--restore-drill" in line for line in starts.values())
    assert any("--restore-drill" not in line for line in starts.values())
    for name, line in starts.items():
        assert re.match(rf"ExecStart=/usr/bin/flock {re.escape(BACKUP_LOCK_FILE)} ", line), (name, line)


def test_the_rule_sees_a_unit_without_the_lock():
    files = {"x.service": "[Service]\nExecStart=/usr/local/lib/neo4j-cluster/neo4j-backup.sh --restore-drill\n"}
    (line,) = job_starts(files).values()
    assert not re.match(rf"ExecStart=/usr/bin/flock {re.escape(BACKUP_LOCK_FILE)} ", line)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_unit_that_runs_neo4j_admin_has_a_tmp_of_its_own(variant):
    # neo4j-admin's consistency check (every backup and drill checks what it made) writes a log4j-<n>.xml into
    # java.io.tmpdir, /tmp, on every run and never removes it (seen with the real 5.26 and 2025 neo4j-admin in
    # the backup tests). systemd.exec(5), PrivateTmp=: "sets up a new file system namespace for the executed
    # processes and mounts private /tmp/ and /var/tmp/ directories inside it ... All temporary files created by
    # a service in these directories will be removed after the service is stopped."
    settings = make_settings(**VARIANTS[variant])
    files = render_backup_job(settings, plan_topology(settings))
    for name in job_starts(files):
        assert "PrivateTmp=true" in files[name].splitlines(), name
