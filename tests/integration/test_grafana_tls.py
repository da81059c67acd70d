"""Grafana over HTTPS on the AWS monitoring node (issue 26, item 6): its certificate is signed by the cluster's
CA (components/program/tls.py), kept in Secrets Manager and fetched before every start of grafana-server.

Grafana's configuration: "You can customize your Grafana instance by modifying the custom configuration file or
by using environment variables" (Configure Grafana), GF_<SectionName>_<KeyName>: [server] protocol https with
cert_file and cert_key. The rendered fetch script runs here against a stand-in `aws` (the secret's JSON), the real
openssl checks what it wrote, and systemd-analyze reads the drop-in.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from components.aws.user_data import GRAFANA_TLS_DIR, GRAFANA_TLS_PLACES, aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings, require_tool

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def monitoring():
    settings = make_settings(tls="required")
    topology = plan_topology(settings)
    return topology, aws_artifacts(settings, topology)["monitoring"]


def openssl(*args: str | Path, cwd: Path) -> str:
    result = subprocess.run([require_tool("openssl"), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def material(tmp_path, monitoring) -> dict[str, str]:
    """A CA and a certificate for the monitoring node's name, as ClusterCertificates makes them (ECDSA)."""
    topology, _ = monitoring
    d = tmp_path / "pki"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=test CA", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "grafana.key",
            "-out", "grafana.csr", "-subj", f"/CN={topology.monitoring.hostname}", cwd=d)
    (d / "ext").write_text(f"subjectAltName=DNS:{topology.monitoring.hostname}\n")
    openssl("x509", "-req", "-in", "grafana.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "grafana.crt", "-days", "1", "-extfile", "ext", cwd=d)
    return {"key": (d / "grafana.key").read_text(), "cert": (d / "grafana.crt").read_text(),
            "ca": (d / "ca.crt").read_text()}


def run_fetch(tmp_path: Path, script_text: str, secret: str | None) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "secret.json").write_text(secret or "")
    fake = bin_dir / "aws"  # stands in for `aws secretsmanager get-secret-value ... --output text`
    fake.write_text(f"#!/bin/sh\n[ -s {tmp_path}/secret.json ] || exit 254\ncat {tmp_path}/secret.json\n")
    fake.chmod(0o755)
    script = tmp_path / "fetch-grafana-tls.sh"
    script.write_text(script_text)
    script.chmod(0o755)
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GRAFANA_TLS_DIR": str(tmp_path / "tls"), "GRAFANA_GROUP": group}
    return subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)


def test_the_fetch_writes_a_certificate_the_ca_verifies_for_the_node_name_readable_by_grafana_only(
        tmp_path, monitoring, material):
    topology, files = monitoring
    result = run_fetch(tmp_path, files["fetch-grafana-tls.sh"], json.dumps(material))
    assert result.returncode == 0, result.stderr
    tls = tmp_path / "tls"
    assert oct(tls.stat().st_mode & 0o777) == "0o750"
    for part in ("key", "cert", "ca"):
        assert oct((tls / f"grafana.{part}").stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in tls.iterdir()) == ["grafana.ca", "grafana.cert", "grafana.key"]  # no temp left
    hostname = topology.monitoring.hostname
    openssl("verify", "-CAfile", tls / "grafana.ca", "-verify_hostname", hostname, tls / "grafana.cert", cwd=tmp_path)
    # The key is the certificate's.
    assert (openssl("pkey", "-in", tls / "grafana.key", "-pubout", cwd=tmp_path)
            == openssl("x509", "-in", tls / "grafana.cert", "-noout", "-pubkey", cwd=tmp_path))


def test_a_failed_lookup_or_a_secret_without_a_part_writes_nothing(tmp_path, monitoring, material):
    _, files = monitoring
    assert run_fetch(tmp_path, files["fetch-grafana-tls.sh"], None).returncode != 0
    assert not (tmp_path / "tls").exists() or not any((tmp_path / "tls").iterdir())
    partial = json.dumps({"key": material["key"]})
    assert run_fetch(tmp_path, files["fetch-grafana-tls.sh"], partial).returncode != 0
    assert not (tmp_path / "tls" / "grafana.cert").exists()
    assert [p.name for p in (tmp_path / "tls").iterdir() if p.name.startswith(".")] == []


def test_the_drop_in_serves_https_with_the_fetched_files_and_systemd_accepts_it(tmp_path, monitoring):
    topology, files = monitoring
    drop_in = files["grafana-tls.conf"]
    env = dict(re.findall(r"^Environment=(\w+)=(.*)$", drop_in, re.M))
    assert env == {"GF_SERVER_PROTOCOL": "https", "GF_SERVER_CERT_FILE": f"{GRAFANA_TLS_DIR}/grafana.cert",
                   "GF_SERVER_CERT_KEY": f"{GRAFANA_TLS_DIR}/grafana.key"}
    assert f"ExecStartPre=+{GRAFANA_TLS_PLACES['fetch-grafana-tls.sh']}\n" in drop_in
    user_data = files["cloud-init.yaml"]
    for name, place in GRAFANA_TLS_PLACES.items():
        mode = "0755" if name.endswith(".sh") else "0644"
        assert f"  - path: {place}\n    permissions: \"{mode}\"" in user_data
    # The package's unit (a stand-in with its ExecStart) plus the rendered drop-in, read by systemd.
    units = tmp_path / "units"
    (units / "grafana-server.service.d").mkdir(parents=True)
    script = tmp_path / "fetch-grafana-tls.sh"
    script.write_text(files["fetch-grafana-tls.sh"])
    script.chmod(0o755)
    (units / "grafana-server.service").write_text(
        "[Unit]\nDescription=Grafana instance\n\n[Service]\nUser=root\nExecStart=/bin/true\n\n"
        "[Install]\nWantedBy=multi-user.target\n")
    (units / "grafana-server.service.d" / "grafana-tls.conf").write_text(
        drop_in.replace(GRAFANA_TLS_PLACES["fetch-grafana-tls.sh"], str(script)))
    result = subprocess.run([require_tool("systemd-analyze"), "verify", str(units / "grafana-server.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stdout + result.stderr


def test_without_tls_grafana_stays_on_http_and_reads_no_certificate():
    settings = make_settings(tls="disabled")
    files = aws_artifacts(settings, plan_topology(settings))["monitoring"]
    assert not set(GRAFANA_TLS_PLACES) & set(files)
    assert "tls/grafana" not in files["cloud-init.yaml"]


def test_shellcheck_passes_the_fetch_script(tmp_path, monitoring):
    _, files = monitoring
    script = tmp_path / "fetch-grafana-tls.sh"
    script.write_text(files["fetch-grafana-tls.sh"])
    shellcheck = shutil.which("shellcheck") or require_tool("shellcheck")
    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, timeout=60,
                            env={**os.environ})
    assert result.returncode == 0, result.stdout
