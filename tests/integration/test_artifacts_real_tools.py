"""Every rendered artifact is read by the real tool that will read it in production.

haproxy -c, cloud-init schema, shellcheck and systemd-analyze, over the stack files and a matrix of
version lines, editions and TLS levels. The tools come from Debian's packages (make tools).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.aws.user_data import aws_artifacts
from components.render import flatten
from components.settings import load_settings
from components.topology import plan_topology
from tests.conftest import ROOT, make_settings, require_tool, stack_config

pytestmark = pytest.mark.integration

VARIANTS = {
    "dev": lambda: load_settings("dev", stack_config("dev")),
    "prod": lambda: load_settings("prod", stack_config("prod")),
    "local": lambda: load_settings("local", stack_config("local")),
    "v44-cluster-tls-required": lambda: make_settings(version="4.4.44", tls="required", replicaCount=2),
    "v44-community": lambda: make_settings(version="4.4.44", edition="community", coreCount=1, replicaCount=0,
                                           acceptLicense=False),
    "v2025-cluster": lambda: make_settings(version="2025.10.1", coreCount=5, replicaCount=1),
    "v5-community-no-tls": lambda: make_settings(edition="community", coreCount=1, replicaCount=0, tls="disabled",
                                                 haproxy=False, monitoring=False),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def rendered(request, tmp_path_factory) -> tuple[str, Path]:
    settings = VARIANTS[request.param]()
    out = tmp_path_factory.mktemp(request.param)
    # What the EC2 machines get (the neutral render and their own files): every file a real tool reads.
    for relative, text in flatten(aws_artifacts(settings, plan_topology(settings))).items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text)
    return request.param, out


def run(*command: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory) -> Path:
    """A real CA certificate for `verify required ca-file` (deploys fetch the cluster CA at boot)."""
    directory = tmp_path_factory.mktemp("ca")
    result = run(require_tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", directory / "ca.key", "-out", directory / "ca.crt", "-days", "1",
                 "-subj", "/CN=test CA")
    assert result.returncode == 0, result.stderr
    return directory / "ca.crt"


def test_haproxy_accepts_the_rendered_config(rendered, ca_file):
    name, out = rendered
    config = out / "haproxy" / "haproxy.cfg"
    if VARIANTS[name]().haproxy is False:
        assert not config.exists()
        return
    # The only edits: the CA and entry certificate paths the boot script writes on the node, pointed at real ones
    # here (the entry: any certificate with its key), and the directory of the admin socket and of the saved server
    # states (the node's boot writes a states file holding only "1").
    states = out / "haproxy" / "state"
    states.mkdir()
    (states / "server-state").write_text("1\n")
    entry = ca_file.parent / "entry.pem"
    entry.write_text(ca_file.read_text() + (ca_file.parent / "ca.key").read_text())
    text = (config.read_text().replace("/etc/haproxy/ca.crt", str(ca_file))
            .replace("/etc/haproxy/entry.pem", str(entry)).replace("/var/lib/haproxy/", f"{states}/"))
    checked = out / "haproxy" / "haproxy-checked.cfg"
    checked.write_text(text)
    result = run(require_tool("haproxy"), "-c", "-f", checked)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ALERT]" not in result.stdout + result.stderr
    # Offline the servers' private DNS names do not resolve; anything else would be a real warning.
    warnings = [line for line in (result.stdout + result.stderr).splitlines()
                if "[WARNING]" in line and "could not resolve address" not in line]
    assert warnings == []


def test_cloud_init_accepts_every_user_data(rendered):
    name, out = rendered
    files = sorted(out.glob("*/cloud-init.yaml"))
    assert files, f"{name}: no user data rendered"
    for user_data in files:
        result = run(require_tool("cloud-init"), "schema", "-c", user_data)
        assert result.returncode == 0 and "Valid cloud-config" in result.stdout, \
            f"{user_data.relative_to(out)}: {result.stdout}{result.stderr}"


def test_user_data_files_are_exactly_the_rendered_artifacts(rendered):
    name, out = rendered
    for user_data in out.glob("*/cloud-init.yaml"):
        document = yaml.safe_load(user_data.read_text())
        placed = {entry["path"]: entry["content"] for entry in document["write_files"]}
        target = user_data.parent
        for path, content in placed.items():
            sources = [p for p in target.rglob("*") if p.is_file() and p.name == Path(path).name
                       and p.name != "cloud-init.yaml"]
            assert any(p.read_text() == content for p in sources), f"{name}: {path} differs from its artifact"


def test_shellcheck_passes_every_rendered_script(rendered):
    name, out = rendered
    scripts = sorted(out.rglob("*.sh"))
    assert scripts, f"{name}: no scripts rendered"
    result = run(require_tool("shellcheck"), "--severity=info", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_backup_timer_schedule_is_a_valid_systemd_calendar(rendered):
    name, out = rendered
    timers = list(out.rglob("neo4j-backup.timer"))
    assert len(timers) == 1, f"{name}: one server takes the backups"
    schedule = re.search(r"^OnCalendar=(.+)$", timers[0].read_text(), re.M)[1]
    result = run(require_tool("systemd-analyze"), "calendar", schedule)
    assert result.returncode == 0, result.stderr
    assert "02:00:00" in result.stdout


def test_cert_renewal_units_pass_systemd_analyze_verify(rendered, tmp_path):
    """Every server with TLS gets neo4j-cert-renew.service/.timer; systemd itself reads them. The only edit:
    ExecStart points at the rendered script, copied here (verify checks that the program exists)."""
    name, out = rendered
    services = sorted(out.rglob("neo4j-cert-renew.service"))
    if VARIANTS[name]().tls == "disabled":
        assert services == []
        return
    assert services, f"{name}: no certificate renewal units"
    calendars = set()
    for service in services:
        unit_dir = tmp_path / service.parent.name
        unit_dir.mkdir()
        script = unit_dir / "renew-certificates.sh"
        shutil.copyfile(service.parent / "renew-certificates.sh", script)
        script.chmod(0o755)
        (unit_dir / "neo4j-cert-renew.service").write_text(
            service.read_text().replace("/usr/local/lib/neo4j-cluster/renew-certificates.sh", str(script)))
        timer = (service.parent / "neo4j-cert-renew.timer").read_text()
        (unit_dir / "neo4j-cert-renew.timer").write_text(timer)
        result = run(require_tool("systemd-analyze"), "verify", unit_dir / "neo4j-cert-renew.timer",
                     unit_dir / "neo4j-cert-renew.service")
        assert result.returncode == 0 and not result.stderr.strip(), f"{service}: {result.stdout}{result.stderr}"
        calendar = re.search(r"^OnCalendar=(.+)$", timer, re.M)[1]
        assert run(require_tool("systemd-analyze"), "calendar", calendar).returncode == 0, calendar
        calendars.add(calendar)
    assert len(calendars) == len(services), f"{name}: two servers renew at the same time"


def test_shellcheck_passes_the_projects_own_scripts():
    scripts = [ROOT / ".ci" / "run", *sorted((ROOT / "scripts").glob("*.sh"))]
    result = run(require_tool("shellcheck"), "--severity=info", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_systemd_accepts_the_grow_data_volume_units(rendered):
    # Every machine with a data volume (Neo4j servers, the monitoring node) gets the grow service and timer.
    name, out = rendered
    units = sorted(out.rglob("grow-data-volume.service")) + sorted(out.rglob("grow-data-volume.timer"))
    machines = {unit.parent.name for unit in units}
    settings = VARIANTS[name]()
    expected = {s.name for s in plan_topology(settings).servers} | ({"monitoring"} if settings.monitoring else set())
    assert machines == expected and len(units) == 2 * len(expected)
    for machine in machines:
        pair = [out / machine / "grow-data-volume.service", out / machine / "grow-data-volume.timer"]
        result = run(require_tool("systemd-analyze"), "verify", *pair)
        assert result.returncode == 0 and result.stderr == "", f"{machine}: {result.stdout}{result.stderr}"


def test_backup_units_pass_systemd_analyze_verify(rendered, tmp_path):
    """The backup server's timers and services, read by systemd itself: Enterprise 5.26 and 2025 get the full
    (neo4j-backup, --type full) and the differential pair (neo4j-backup-diff, --type diff, on
    neo4j:backupDiffSchedule); Community and 4.4 the daily one alone. Only edit: ExecStart's script is the
    rendered launcher, copied here (verify checks that the program exists)."""
    name, out = rendered
    settings = VARIANTS[name]()
    [job] = {p.parent for p in out.rglob("neo4j-backup.sh")}
    chains = settings.edition == "enterprise" and settings.version_line != "4.4"
    units = ["neo4j-backup.timer", "neo4j-backup.service"] + (
        ["neo4j-backup-diff.timer", "neo4j-backup-diff.service"] if chains else [])
    backup_timers = {p.name for p in job.glob("neo4j-backup*.timer")} - {"neo4j-backup-freshness.timer"}
    assert backup_timers == {u for u in units if u.endswith(".timer")}
    script = tmp_path / "neo4j-backup.sh"
    shutil.copyfile(job / "neo4j-backup.sh", script)
    script.chmod(0o755)
    for unit in units:
        (tmp_path / unit).write_text((job / unit).read_text().replace(
            "/usr/local/lib/neo4j-cluster/neo4j-backup.sh", str(script)))
    result = run(require_tool("systemd-analyze"), "verify", *(tmp_path / u for u in units))
    assert result.returncode == 0 and not result.stderr.strip(), f"{name}: {result.stdout}{result.stderr}"
    timer = (job / "neo4j-backup.timer").read_text()
    service = (job / "neo4j-backup.service").read_text()
    if chains:
        assert f"OnCalendar={settings.backup_full_schedule}\n" in timer
        assert "neo4j-backup.sh --type full\n" in service
        assert f"OnCalendar={settings.backup_diff_schedule}\n" in (job / "neo4j-backup-diff.timer").read_text()
        assert "neo4j-backup.sh --type diff\n" in (job / "neo4j-backup-diff.service").read_text()
    else:
        assert f"OnCalendar={settings.backup_schedule}\n" in timer and "--type" not in service


def test_failed_login_units_pass_systemd_analyze_verify(rendered, tmp_path):
    """Every AWS Neo4j server counts its failed logins every minute (neo4j-failed-logins.timer); systemd reads the
    units. The only edit: ExecStart points at the rendered script, copied here (verify checks that it exists)."""
    name, out = rendered
    services = sorted(out.rglob("neo4j-failed-logins.service"))
    assert services, f"{name}: no failed-login counter"
    for service in services[:2]:
        unit_dir = tmp_path / service.parent.name
        unit_dir.mkdir()
        script = unit_dir / "neo4j-failed-logins.sh"
        shutil.copyfile(service.parent / "neo4j-failed-logins.sh", script)
        script.chmod(0o755)
        (unit_dir / "neo4j-failed-logins.service").write_text(
            service.read_text().replace("/usr/local/lib/neo4j-cluster/neo4j-failed-logins.sh", str(script)))
        shutil.copyfile(service.parent / "neo4j-failed-logins.timer", unit_dir / "neo4j-failed-logins.timer")
        result = run(require_tool("systemd-analyze"), "verify", unit_dir / "neo4j-failed-logins.timer",
                     unit_dir / "neo4j-failed-logins.service")
        assert result.returncode == 0 and not result.stderr.strip(), f"{service}: {result.stdout}{result.stderr}"
        user_data = (service.parent / "cloud-init.yaml").read_text()
        assert "[systemctl, enable, --now, neo4j-failed-logins.timer]" in user_data
