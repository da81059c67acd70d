"""Prometheus on the monitoring node listens on loopback only, behind Grafana (issue 26, item 6): the rendered
drop-in for Debian's prometheus.service, read by systemd-analyze and run by the real prometheus binary.

Prometheus's own flag: "--web.listen-address: Address to listen on for UI, API, and telemetry." (prometheus
--help). A listener on 127.0.0.1 takes no connection addressed to another interface: 127.0.0.2 stands in for
the node's VPC address (Linux routes all of 127/8 to lo, but a socket bound to 127.0.0.1 accepts only that).
"""
from __future__ import annotations

import re
import shlex
import socket
import subprocess
import time
import urllib.request

import pytest

from components.aws.user_data import PROMETHEUS_LISTEN, PROMETHEUS_LISTEN_PLACE, aws_artifacts
from components.monitoring import GRAFANA_DATASOURCE
from components.ports import PORTS
from components.topology import plan_topology
from tests.conftest import make_settings, require_tool
from tests.support.neo4j_dist import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def monitoring_files() -> dict[str, str]:
    settings = make_settings()
    return aws_artifacts(settings, plan_topology(settings))["monitoring"]


def exec_start(drop_in: str) -> list[str]:
    lines = re.findall(r"^ExecStart=(.*)$", drop_in, re.M)
    assert lines[0] == "", "the drop-in must clear the package's ExecStart before replacing it"
    assert len(lines) == 2
    return shlex.split(lines[1].replace("$ARGS", ""))


def test_the_drop_in_binds_prometheus_to_loopback_and_grafana_reads_it_there(monitoring_files):
    command = exec_start(monitoring_files[PROMETHEUS_LISTEN])
    assert command[0] == "/usr/bin/prometheus"
    assert command[1:] == [f"--web.listen-address=127.0.0.1:{PORTS.monitoring.prometheus}"]
    assert f'url: "http://127.0.0.1:{PORTS.monitoring.prometheus}"' in monitoring_files[GRAFANA_DATASOURCE]
    user_data = monitoring_files["cloud-init.yaml"]
    assert f"- path: {PROMETHEUS_LISTEN_PLACE}\n" in user_data
    # Placed before the restart that picks up the rendered prometheus.yml (and now the listen address).
    assert user_data.index("[systemctl, daemon-reload]") < user_data.index("[systemctl, restart, prometheus]")


def test_systemd_accepts_the_drop_in(monitoring_files, tmp_path):
    """The package's unit (as Debian ships it) with the rendered drop-in: systemd-analyze verify reads both."""
    unit_dir = tmp_path / "units"
    (unit_dir / "prometheus.service.d").mkdir(parents=True)
    prometheus = require_tool("prometheus")
    (unit_dir / "prometheus.service").write_text(
        "[Unit]\nDescription=Monitoring system and time series database\n\n"
        f"[Service]\nUser=root\nEnvironment=ARGS=\nExecStart={prometheus} $ARGS\n\n"
        "[Install]\nWantedBy=multi-user.target\n")
    (unit_dir / "prometheus.service.d" / PROMETHEUS_LISTEN).write_text(
        monitoring_files[PROMETHEUS_LISTEN].replace("/usr/bin/prometheus", prometheus))
    result = subprocess.run([require_tool("systemd-analyze"), "verify", str(unit_dir / "prometheus.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stdout + result.stderr


def _answers(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_a_real_prometheus_with_the_rendered_flag_answers_only_on_loopback(monitoring_files, tmp_path):
    port = free_port()
    flags = [flag.replace(f":{PORTS.monitoring.prometheus}", f":{port}")  # the one edit: a free port
             for flag in exec_start(monitoring_files[PROMETHEUS_LISTEN])[1:]]
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([require_tool("prometheus"), f"--config.file={config}",
                                    f"--storage.tsdb.path={tmp_path / 'data'}", *flags],
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _answers("127.0.0.1", port):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex(("127.0.0.2", port)) != 0, "Prometheus answers an address other than loopback"
        assert not _answers("127.0.0.2", port)
    finally:
        process.terminate()
        process.wait(20)
