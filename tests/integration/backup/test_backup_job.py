"""The rendered systemd job: shellcheck-clean, and it hands backup.py/restore.py options they accept.

The launcher runs for real under bash with stand-ins for curl (instance metadata), aws (Secrets
Manager), install and python3 (which records its arguments), so what the timer would run is
parsed by the scripts' own argument parsers.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.aws.user_data import render_backup_job
from components.templating import render_template
from components.topology import plan_topology
from scripts.neo4j_ops.backup import commands
from tests.conftest import make_settings, require_tool

pytestmark = pytest.mark.integration

VARIANTS = {
    "enterprise-5": {},
    "enterprise-4.4": {"version": "4.4.41"},
    "enterprise-2025": {"version": "2025.10.1"},
    "community-5": {"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False},
    "community-4.4": {"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False,
                      "version": "4.4.41"},
}

STUBS = {
    "curl": '#!/bin/sh\ncase "$*" in *api/token*) echo token ;; *) echo tagged-bucket ;; esac\n',
    "aws": "#!/bin/sh\necho secret-from-secrets-manager\n",
    "install": "#!/bin/sh\nexit 0\n",
    "python3": '#!/bin/sh\nprintf "%s\\n" "$NEO4J_PASSWORD" "$@" "--end-of-run--" >> "$ARGS_FILE"\n',
}


def parser_of(name: str):
    """The argument parser scripts/<name>.py runs with."""
    return getattr(commands, f"{name}_parser")()


def rendered(variant: str) -> tuple[dict[str, str], object]:
    settings = make_settings(**VARIANTS[variant])
    return render_backup_job(settings, plan_topology(settings)), settings


def run_launcher(script: str, tmp_path: Path, *args: str) -> list[str]:
    bin_dir, tools = tmp_path / "bin", tmp_path / "tools"
    bin_dir.mkdir(exist_ok=True)
    (tools / "neo4j_ops" / "backup").mkdir(parents=True, exist_ok=True)
    for name in ("backup.py", "restore.py", "neo4j_ops/backup/__init__.py"):
        (tools / name).touch()
    for name, text in STUBS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "neo4j-backup.sh").write_text(script)
    record = tmp_path / "args"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "NEO4J_BACKUP_TOOLS": str(tools), "ARGS_FILE": str(record)}
    result = subprocess.run(["bash", str(tmp_path / "neo4j-backup.sh"), *args], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return runs_of(tmp_path)[0]


def runs_of(tmp_path: Path) -> list[list[str]]:
    """Every run of the tools the launcher made, in order (the recorded argument lists)."""
    text = (tmp_path / "args").read_text()
    return [chunk.strip("\n").splitlines() for chunk in text.split("--end-of-run--") if chunk.strip()]


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
    password, tool, *argv = run_launcher(files["backup/neo4j-backup.sh"], tmp_path)
    assert password == "secret-from-secrets-manager"
    assert tool.endswith("/tools/backup.py")
    args = parser_of("backup").parse_args(argv)
    assert (args.bucket, args.stack, args.database, args.region) == ("tagged-bucket", "test", "neo4j", "eu-west-1")
    assert args.local_retention_days == settings.backup_local_retention_days
    assert args.neo4j_admin == "runuser -u neo4j -- neo4j-admin" and args.owner == "neo4j"
    assert args.staging_dir == Path("/var/lib/neo4j/data/backup-staging")  # the data volume, not the root disk
    runs = runs_of(tmp_path)
    if settings.edition == "enterprise":
        # The job runs on core-1 (components/topology.py) and names it; the source is chosen at run time.
        assert args.method == "online" and args.source == "core-1.test.neo4j.internal:6362"
        assert not args.offline_ok
        assert [parser_of("backup").parse_args(run[2:]).database for run in runs] == ["neo4j", "system"]
    else:
        assert len(runs) == 1
        assert args.method == "dump" and args.offline_ok
        assert (args.stop_command, args.start_command) == ("systemctl stop neo4j", "systemctl start neo4j")


def test_restore_drill_runs_restore_py_verify_only(tmp_path):
    files, _ = rendered("enterprise-5")
    _, tool, *argv = run_launcher(files["backup/neo4j-backup.sh"], tmp_path, "--restore-drill")
    assert tool.endswith("/tools/restore.py")
    args = parser_of("restore").parse_args(argv)
    assert args.latest and args.verify_only and args.bucket == "tagged-bucket"
    assert args.scratch_command == "runuser -u neo4j -- neo4j console"


def test_community_service_starts_neo4j_again_whatever_happened_to_the_backup():
    community, _ = rendered("community-5")
    enterprise, _ = rendered("enterprise-5")
    assert "ExecStopPost=/bin/systemctl start neo4j.service" in community["backup/neo4j-backup.service"]
    assert "ExecStopPost" not in enterprise["backup/neo4j-backup.service"]


def test_restore_drill_units_render_and_their_timer_is_a_valid_calendar(tmp_path):
    _, settings = rendered("enterprise-5")
    values = {"stack": settings.stack, "database": settings.database}
    service = render_template("backup/neo4j-restore-drill.service.j2", **values)
    timer = render_template("backup/neo4j-restore-drill.timer.j2", **values)
    assert "neo4j-backup.sh --restore-drill" in service
    calendar = next(line.split("=", 1)[1] for line in timer.splitlines() if line.startswith("OnCalendar="))
    analyze = subprocess.run([require_tool("systemd-analyze"), "calendar", calendar], capture_output=True, text=True)
    assert analyze.returncode == 0, analyze.stderr
