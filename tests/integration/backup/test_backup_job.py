"""The rendered systemd job: shellcheck-clean, and it hands backup.py/restore.py options they accept.

The launcher runs for real under bash with stand-ins for curl (instance metadata), aws (Secrets
Manager), install and python3 (which records its arguments), so what the timer would run is
parsed by the scripts' own argument parsers.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.aws.secret_names import secret_names
from components.aws.user_data import render_backup_job
from components.topology import plan_topology
from scripts.neo4j_ops.backup import commands
from tests.conftest import make_settings, require_tool

from .support import run_launcher

pytestmark = pytest.mark.integration

VARIANTS = {
    "enterprise-5": {},
    "enterprise-4.4": {"version": "4.4.41"},
    "enterprise-2025": {"version": "2025.10.1"},
    "community-5": {"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False},
    "community-4.4": {"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False,
                      "version": "4.4.41"},
}

def parser_of(name: str):
    """The argument parser scripts/<name>.py runs with."""
    return getattr(commands, f"{name}_parser")()


def rendered(variant: str) -> tuple[dict[str, str], object]:
    settings = make_settings(**VARIANTS[variant])
    return render_backup_job(settings, plan_topology(settings)), settings


def launch(script: str, tmp_path: Path, *args: str) -> list[list[str]]:
    """Run the rendered launcher; every tool run it made: [NEO4J_PASSWORD, tool, args…]."""
    return run_launcher(script, tmp_path, '"$NEO4J_PASSWORD"', *args)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_backup_script_passes_shellcheck(variant, tmp_path):
    files, _ = rendered(variant)
    script = tmp_path / "neo4j-backup.sh"
    script.write_text(files["backup/neo4j-backup.sh"])
    result = subprocess.run([require_tool("shellcheck"), "--severity=info", str(script)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_timer_runs_backup_py_with_options_it_accepts(variant, tmp_path):
    files, settings = rendered(variant)
    runs = launch(files["backup/neo4j-backup.sh"], tmp_path)
    password, tool, *argv = runs[0]
    assert password == "secret-from-secrets-manager"
    assert tool.endswith("/scripts/backup.py")
    args = parser_of("backup").parse_args(argv)
    # Every database the server lists at run time and system, in one run (not the stack's default alone).
    assert (args.bucket, args.stack, args.database, args.region) == ("tagged-bucket", "test", "*", "eu-west-1")
    assert len(runs) == 1
    assert args.local_retention_days == settings.backup_local_retention_days
    assert args.neo4j_admin == "runuser -u neo4j -- neo4j-admin" and args.owner == "neo4j"
    assert args.staging_dir == Path("/var/lib/neo4j/data/backup-staging")  # the data volume, not the root disk
    if settings.edition == "enterprise":
        # The job runs on core-1 (components/topology.py) and names it; the source is chosen at run time.
        assert args.method == "online" and args.source == "core-1.test.neo4j.internal:6362"
        assert not args.offline_ok
    else:
        assert args.method == "dump" and args.offline_ok
        assert (args.stop_command, args.start_command) == ("systemctl stop neo4j", "systemctl start neo4j")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_backup_and_the_drill_log_in_as_the_backup_jobs_own_user_with_its_own_secret(variant, tmp_path):
    # components/job_users.py: backup_job (lists and counts, never writes) on Enterprise; Community has no roles.
    files, settings = rendered(variant)
    script = files["backup/neo4j-backup.sh"]
    user = "backup_job" if settings.edition == "enterprise" else "neo4j"
    for tool, mode in (("backup", ()), ("restore", ("--restore-drill",))):
        (run,) = launch(script, tmp_path, *mode)
        assert parser_of(tool).parse_args(run[2:]).user == user
    names = secret_names(settings, plan_topology(settings))
    secret = names.job_users["backup_job"] if user == "backup_job" else names.admin_password
    assert f'PASSWORD_SECRET="{secret}"' in script
    if user == "backup_job":
        assert secret != names.admin_password


def test_restore_drill_runs_restore_py_verify_only(tmp_path):
    files, _ = rendered("enterprise-5")
    (run,) = launch(files["backup/neo4j-backup.sh"], tmp_path, "--restore-drill")
    _, tool, *argv = run
    assert tool.endswith("/scripts/restore.py")
    args = parser_of("restore").parse_args(argv)
    assert args.latest and args.verify_only and args.bucket == "tagged-bucket"
    assert args.scratch_command == "runuser -u neo4j -- neo4j console"


def test_community_service_starts_neo4j_again_whatever_happened_to_the_backup():
    community, _ = rendered("community-5")
    enterprise, _ = rendered("enterprise-5")
    assert "ExecStopPost=/bin/systemctl start neo4j.service" in community["backup/neo4j-backup.service"]
    assert "ExecStopPost" not in enterprise["backup/neo4j-backup.service"]


def test_restore_drill_units_render_and_their_timer_is_a_valid_calendar(tmp_path):
    files, _ = rendered("enterprise-5")
    service, timer = files["backup/neo4j-restore-drill.service"], files["backup/neo4j-restore-drill.timer"]
    assert "neo4j-backup.sh --restore-drill" in service
    calendar = next(line.split("=", 1)[1] for line in timer.splitlines() if line.startswith("OnCalendar="))
    analyze = subprocess.run([require_tool("systemd-analyze"), "calendar", calendar], capture_output=True, text=True)
    assert analyze.returncode == 0, analyze.stderr
