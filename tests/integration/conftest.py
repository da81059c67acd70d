"""Fixtures of the integration tests: real Neo4j Community servers configured by our own templates
(tests/support/neo4j_local.py), and a real HAProxy running our rendered haproxy.cfg in front of them
(tests/support/haproxy.py substitutes only addresses and ports).

The plain 5.26 server (`neo4j_server`) is shared by every module of the session that needs one
(starting one takes 5-10 s). `line_server` is the plain server of each line we render (4.4, 5.26,
2025; tests/support/neo4j_dist.py pins the releases): a test that takes it runs once per line, and
pytest groups those tests by line, so at most one 4.4 and one 2025 server run at a time per
pytest-xdist worker (the 5.26 one is `neo4j_server` itself; `make test` runs two workers, a
module's tests on one). Servers a module needs for itself (TLS, one to stop) come from
`neo4j_factory` and stop when the module ends. Each lives in its own temporary NEO4J_HOME on free
loopback ports, so several run at once, and each is killed with the test process if that dies first. Tests that
use the shared server leave nothing behind that another test could see (probe nodes are deleted,
transactions closed); the users security.py creates are the exception, and no test minds them.
"""
from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.render import render_haproxy_cfg
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.haproxy import (
    BoltAlive,
    HealthEndpoints,
    Loopback,
    haproxy_binary,
    loopback_cfg,
    loopback_dirs,
    running_haproxy,
    server_names,
)
from tests.support.neo4j_dist import LINES, NEO4J_VERSIONS, free_port, line_of
from tests.support.neo4j_local import LocalNeo4j, prepare, running, start_all
from tests.support.rehearsal.dockerd import PrivateDockerd, private_dockerd

INTEGRATION_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything here runs a real tool or server: marked integration whether or not its module says so, so
    # `make unit` (-m "not integration") never starts one (two modules once forgot the mark).
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


PASSWORD = "integration-secret-1"


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory) -> Iterator[LocalNeo4j]:
    """One Neo4j Community 5.26 server (TLS disabled, password PASSWORD), shared by the session."""
    with running(tmp_path_factory.mktemp("neo4j"), password=PASSWORD) as local:
        yield local


@pytest.fixture(scope="session", params=LINES, ids=[line_of(line).label for line in LINES])
def line_server(request, tmp_path_factory) -> Iterator[LocalNeo4j]:
    """The plain server (TLS disabled, password PASSWORD) of each version line, shared by the session."""
    if request.param == "5":
        yield request.getfixturevalue("neo4j_server")
        return
    with running(tmp_path_factory.mktemp(f"neo4j-{request.param}"), password=PASSWORD,
                 version=NEO4J_VERSIONS[request.param]) as local:
        yield local


@pytest.fixture(scope="module")
def neo4j_factory(tmp_path_factory):
    """start(tls=..., count=..., version=...) → servers started at once, all stopped when the module ends."""
    started: list[LocalNeo4j] = []

    def start(*, tls: str = "disabled", count: int = 1, certificates=None,
              version: str = NEO4J_VERSIONS["5"]) -> list[LocalNeo4j]:
        base = tmp_path_factory.mktemp(f"neo4j-{tls}")
        servers = [prepare(base / f"n{i + 1}", password=PASSWORD, tls=tls, certificates=certificates,
                           version=version) for i in range(count)]
        start_all(servers)
        started.extend(servers)
        return servers

    yield start
    for local in started:
        local.stop()


# --- HAProxy -----------------------------------------------------------------------------------------


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


def community_haproxy_cfg() -> str:
    """The haproxy.cfg a single community server's stack deploys (health check: GET / on 7474)."""
    settings = make_settings(edition="community", coreCount=1, replicaCount=0, acceptLicense=False, tls="disabled")
    return render_haproxy_cfg(settings, plan_topology(settings))


@contextlib.contextmanager
def haproxy_in_front(backends: list[str | LocalNeo4j], directory: Path) -> Iterator[HAProxy]:
    """A real haproxy running the RENDERED config of a single community server's stack
    (`community_haproxy_cfg`) on loopback in front of ONE backend, with only addresses and ports
    substituted (tests/support/haproxy.py `loopback_cfg`). Its health check (`GET /`, expect 200)
    goes to a LocalNeo4j's real HTTP port; for a bare host:port it goes to a stand-in that answers
    200 while that Bolt port accepts connections and 503 when not. Stopped when the block ends."""
    if haproxy_binary() is None:
        pytest.fail("haproxy is not installed: run `make tools` (scripts/install-tools.sh installs it)")
    if len(backends) != 1:
        raise ValueError("a community stack has one server: give exactly one backend")
    rendered = community_haproxy_cfg()
    (name,) = server_names(rendered, "neo4j_read")
    backend = backends[0]
    health = None
    if isinstance(backend, LocalNeo4j):
        if backend.tls == "required":
            raise ValueError("a tls=required server has no plain HTTP port to check")
        bolt_port, check_port = backend.bolt_port, backend.http_port
    else:
        host, _, port = backend.rpartition(":")
        assert host == "127.0.0.1", backend
        bolt_port = int(port)
        health = HealthEndpoints([name], BoltAlive({name: bolt_port}))
        check_port = health.port(name)
    try:
        loopback = Loopback(binds={"bolt_write": free_port(), "bolt_read": free_port(), "stats": free_port(),
                                   "health": free_port()},
                            servers={name: (bolt_port, check_port)}, nameserver_port=free_port(), maxconn=1000,
                            **loopback_dirs(directory))
        with running_haproxy(loopback_cfg(rendered, loopback), directory, listen_ports=list(loopback.binds.values()),
                             stats_port=loopback.binds["stats"]) as proxy:
            proxy.wait_for_first_checks()
            yield HAProxy(loopback.binds["bolt_write"], loopback.binds["bolt_read"], proxy.config, proxy.process)
    finally:
        if health is not None:
            health.close()


@pytest.fixture(scope="module")
def haproxy(neo4j_server, tmp_path_factory) -> Iterator[HAProxy]:
    """A real HAProxy running the rendered config in front of the module's server, checked on its HTTP port."""
    with haproxy_in_front([neo4j_server], tmp_path_factory.mktemp("haproxy")) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def dockerd() -> Iterator[PrivateDockerd]:
    """The boot rehearsal's private dockerd (tests/support/rehearsal/dockerd.py), one per module that asks for it;
    its lock makes a second module wait for the first one's daemon to stop."""
    with private_dockerd() as daemon:
        yield daemon
