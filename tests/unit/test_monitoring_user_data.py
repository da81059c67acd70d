"""The monitoring node's user data keeps Grafana's admin password out of every world-readable file.

The Grafana package creates /etc/default/grafana-server world-readable (0644), and `umask` does not
change the mode of a file that already exists, so the secret must not be appended there. The
rendered runcmd step writes it to its own file instead; here it is run for real, in a temp dir,
with a fake `aws` on PATH.
"""
from __future__ import annotations

import grp
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from components.aws.secret_names import secret_names
from components.aws.user_data import aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings, require_tool

PASSWORD = "s3cr3t p@ss 'quoted' \"double\" $HOME `x` \\n%s"


def rendered(**overrides) -> tuple[dict, object, object]:
    settings = make_settings(**overrides)
    topology = plan_topology(settings)
    user_data = yaml.safe_load(aws_artifacts(settings, topology)["monitoring"]["cloud-init.yaml"])
    return user_data, settings, topology


def commands(user_data: dict) -> list[str]:
    return [" ".join(c) if isinstance(c, list) else c for c in user_data["runcmd"]]


def password_step(user_data: dict) -> list[str]:
    (step,) = [c for c in user_data["runcmd"] if isinstance(c, list) and "secretsmanager" in " ".join(c)]
    return step


def test_no_step_appends_or_writes_the_secret_into_the_package_defaults_file():
    user_data, _, _ = rendered()
    for command in commands(user_data):
        assert ">>" not in command, command
        assert not ("> /etc/default/grafana-server" in command or ">/etc/default/grafana-server" in command), command
    text = yaml.safe_dump(user_data)
    assert "GF_SECURITY_ADMIN_PASSWORD=%s" not in text


def test_the_password_step_names_its_own_file_and_the_secret():
    user_data, settings, topology = rendered()
    step = password_step(user_data)
    assert step[:2] == ["sh", "-c"]
    script, name, *args = step[2:]
    assert name == "grafana-admin-password"
    assert args == ["/etc/grafana/admin-password", "grafana", "/etc/systemd/system/grafana-server.service.d",
                    "/etc/default/grafana-server", settings.region,
                    secret_names(settings, topology).grafana_admin_password]
    lines = script.splitlines()
    # umask before anything is created; the mode is set before the file gets its final name.
    assert lines[:2] == ["set -eu", "umask 077"]
    assert script.index("chmod 0640") < script.index("mv -f")
    assert ">>" not in script


def test_grafana_starts_after_the_password_file_and_the_drop_in_exist():
    user_data, _, _ = rendered()
    steps = commands(user_data)
    install = next(i for i, c in enumerate(steps) if "apt-get install" in c and "grafana" in c)
    password = next(i for i, c in enumerate(steps) if "secretsmanager" in c)
    reload = steps.index("systemctl daemon-reload")
    start = steps.index("systemctl enable --now grafana-server")
    assert install < password < reload < start


@pytest.fixture
def node(tmp_path: Path) -> dict[str, Path]:
    """A fake monitoring node: `aws` printing the password, `chgrp` recording the mode it sees, and the
    package's world-readable defaults file (with a password line an earlier user data appended)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "aws-args"
    (bin_dir / "aws").write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$@\" > '{log}'\n"
        f"cat '{tmp_path / 'password'}'\n")
    (tmp_path / "password").write_text(PASSWORD + "\n")  # aws --output text ends with a newline
    real_chgrp = subprocess.run(["sh", "-c", "command -v chgrp"], capture_output=True, text=True).stdout.strip()
    (bin_dir / "chgrp").write_text(
        "#!/bin/sh\n"
        f"stat -c %a \"$2\" >> '{tmp_path / 'modes-at-chgrp'}'\n"
        f"exec {real_chgrp} \"$@\"\n")
    for tool in ("aws", "chgrp"):
        (bin_dir / tool).chmod(0o755)
    etc = tmp_path / "etc"
    (etc / "grafana").mkdir(parents=True)
    defaults = etc / "grafana-server.defaults"
    defaults.write_text("GRAFANA_USER=grafana\nGF_SECURITY_ADMIN_PASSWORD=from-an-old-boot\nCONF_DIR=/etc/grafana\n")
    defaults.chmod(0o644)
    return {"bin": bin_dir, "log": log, "etc": etc, "defaults": defaults, "tmp": tmp_path,
            "password_file": etc / "grafana" / "admin-password", "dropin": etc / "grafana-server.service.d"}


def run_step(step: list[str], node: dict[str, Path], *, region: str = "eu-west-1",
             secret: str = "neo4j/test/grafana") -> subprocess.CompletedProcess[str]:
    group = grp.getgrgid(os.getgid()).gr_name
    argv = [*step[:4], str(node["password_file"]), group, str(node["dropin"]), str(node["defaults"]), region, secret]
    env = {**os.environ, "PATH": f"{node['bin']}:{os.environ['PATH']}"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_rendered_step_writes_the_password_0640_and_nowhere_else(node):
    user_data, _, _ = rendered()
    step = password_step(user_data)
    result = run_step(step, node)
    assert result.returncode == 0, result.stderr

    password_file = node["password_file"]
    assert password_file.read_text() == PASSWORD  # exact: no shell expansion, no trailing newline
    assert mode(password_file) == 0o640 and password_file.stat().st_gid == os.getgid()
    # While it already held the secret and before it had its group, the file was 0600.
    assert node["tmp"].joinpath("modes-at-chgrp").read_text().split() == ["600"]
    assert node["log"].read_text().split("\n")[:6] == [
        "secretsmanager", "get-secret-value", "--region", "eu-west-1", "--secret-id", "neo4j/test/grafana"]

    # The drop-in names the file; Grafana expands $__file{...} itself. It holds no secret.
    dropin = node["dropin"] / "admin-password.conf"
    assert dropin.read_text() == f"[Service]\nEnvironment=GF_SECURITY_ADMIN_PASSWORD=$__file{{{password_file}}}\n"
    assert mode(dropin) == 0o644

    # The world-readable defaults file keeps its other lines and loses the old password line.
    assert node["defaults"].read_text() == "GRAFANA_USER=grafana\nCONF_DIR=/etc/grafana\n"
    assert mode(node["defaults"]) == 0o644
    world_readable = [p for p in node["etc"].rglob("*") if p.is_file() and mode(p) & stat.S_IROTH]
    assert all(PASSWORD not in p.read_text() and "from-an-old-boot" not in p.read_text() for p in world_readable)
    assert sorted(p.name for p in (node["etc"] / "grafana").iterdir()) == ["admin-password"]  # no temp file left


def test_a_rerun_replaces_the_file_instead_of_appending(node):
    step = password_step(rendered()[0])
    node["password_file"].write_text("an old password, world-readable\n")
    node["password_file"].chmod(0o644)
    for _ in range(2):
        result = run_step(step, node)
        assert result.returncode == 0, result.stderr
    assert node["password_file"].read_text() == PASSWORD
    assert mode(node["password_file"]) == 0o640
    assert (node["dropin"] / "admin-password.conf").read_text().count("[Service]") == 1
    assert sorted(p.name for p in (node["etc"] / "grafana").iterdir()) == ["admin-password"]


def test_a_failing_secret_lookup_fails_the_step_and_writes_nothing(node):
    (node["bin"] / "aws").write_text("#!/bin/sh\necho 'AccessDeniedException' >&2\nexit 255\n")
    result = run_step(password_step(rendered()[0]), node)
    assert result.returncode != 0
    assert not node["password_file"].exists() and not node["dropin"].exists()
    assert list((node["etc"] / "grafana").iterdir()) == []


@pytest.mark.integration
def test_shellcheck_passes_the_password_step(tmp_path):
    script = tmp_path / "grafana-admin-password.sh"
    script.write_text("#!/bin/sh\n" + password_step(rendered()[0])[2])
    result = subprocess.run([require_tool("shellcheck"), "--severity=info", str(script)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
