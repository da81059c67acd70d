"""Fixtures of the integration tests: real Neo4j Community 5.26 servers configured by our own
templates (tests/support/neo4j_local.py), and a real HAProxy in front of them.

The plain server (`neo4j_server`) is shared by every module of the session that needs one (starting
one takes 5-10 s); servers a module needs for itself (TLS, one to stop) come from `neo4j_factory`
and stop when the module ends. Each lives in its own temporary NEO4J_HOME on free loopback ports,
so several run at once, and each is killed with the test process if that dies first. Tests that
use the shared server leave nothing behind that another test could see (probe nodes are deleted,
transactions closed); the users security.py creates are the exception, and no test minds them.
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.neo4j_dist import free_port
from tests.support.neo4j_local import LocalNeo4j, prepare, running, start_all

PASSWORD = "integration-secret-1"


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory) -> Iterator[LocalNeo4j]:
    """One Neo4j Community 5.26 server (TLS disabled), shared by the session."""
    with running(tmp_path_factory.mktemp("neo4j"), password=PASSWORD) as local:
        yield local


@pytest.fixture(scope="module")
def neo4j_factory(tmp_path_factory):
    """start(tls=..., count=...) → servers started at once, all stopped when the module ends."""
    started: list[LocalNeo4j] = []

    def start(*, tls: str = "disabled", count: int = 1, certificates=None) -> list[LocalNeo4j]:
        base = tmp_path_factory.mktemp(f"neo4j-{tls}")
        servers = [prepare(base / f"n{i + 1}", password=PASSWORD, tls=tls, certificates=certificates)
                   for i in range(count)]
        start_all(servers)
        started.extend(servers)
        return servers

    yield start
    for local in started:
        local.stop()


# --- HAProxy -----------------------------------------------------------------------------------------

HAPROXY_CFG = """# Test front end: TCP passthrough to Bolt, health checked by TCP connect.
# (The rendered templates/haproxy/haproxy.cfg.j2 checks /db/<db>/cluster/writable, an Enterprise
# cluster endpoint, and resolves servers by DNS: neither exists for a loopback community server.)
global
    maxconn 200

defaults
    mode tcp
    timeout connect 2s
    timeout client 1m
    timeout server 1m
    timeout check 1s

frontend bolt_write
    bind 127.0.0.1:{write_port}
    default_backend neo4j_write

frontend bolt_read
    bind 127.0.0.1:{read_port}
    default_backend neo4j_read

backend neo4j_write
{write_servers}

backend neo4j_read
    balance leastconn
{read_servers}
"""


@dataclass
class HAProxy:
    write_port: int
    read_port: int
    config: Path
    process: subprocess.Popen

    @property
    def write_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.write_port}"

    @property
    def read_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.read_port}"


@contextlib.contextmanager
def haproxy_in_front(backends: list[str], directory: Path) -> Iterator[HAProxy]:
    """Start `haproxy -f <cfg> -db` on loopback in front of host:port backends; stop it afterwards."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        pytest.fail("haproxy is not installed: run `make tools` (scripts/install-tools.sh installs it)")
    write_port, read_port = free_port(), free_port()
    servers = "\n".join(f"    server n{i + 1} {b} check inter 1s" for i, b in enumerate(backends))
    config = directory / "haproxy.cfg"
    config.write_text(HAPROXY_CFG.format(write_port=write_port, read_port=read_port,
                                         write_servers=servers, read_servers=servers))
    checked = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = open(directory / "haproxy.log", "wb")
    process = subprocess.Popen([binary, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not _port_open(write_port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"haproxy did not start:\n{(directory / 'haproxy.log').read_text()}")
            time.sleep(0.1)
        time.sleep(1.2)  # one health-check interval, so the backend is marked up
        yield HAProxy(write_port, read_port, config, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def haproxy(neo4j_server, tmp_path_factory) -> Iterator[HAProxy]:
    """A real HAProxy (TCP mode) in front of the module's server."""
    with haproxy_in_front([neo4j_server.address], tmp_path_factory.mktemp("haproxy")) as proxy:
        yield proxy
