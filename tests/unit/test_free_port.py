"""free_port under pytest-xdist: each worker draws from its own slice of the test port range, so two workers
starting servers at once never get the same port (make test runs the integration tests on two workers)."""
from __future__ import annotations

import socket

import pytest

from tests.support import neo4j_dist


@pytest.mark.parametrize("worker", ["gw0", "gw1"])
def test_each_worker_gets_ports_only_from_its_own_slice_below_the_ephemeral_range(monkeypatch, worker):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.setattr(neo4j_dist, "_handed_out_ports", set())
    half = len(neo4j_dist._TEST_PORTS) // 2
    start = neo4j_dist._TEST_PORTS.start + (half if worker == "gw1" else 0)
    ports = [neo4j_dist.free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(start <= port < start + half for port in ports)
    assert max(ports) < 32768  # Linux's default ephemeral range starts there


def test_a_port_in_use_is_never_handed_out(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    taken, probe = socket.socket(), socket.socket()
    taken.bind(("127.0.0.1", 0))  # a port in use
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]  # and one free again once the probe closes
    probe.close()
    try:
        monkeypatch.setattr(neo4j_dist, "_TEST_PORTS", [taken.getsockname()[1], free])
        monkeypatch.setattr(neo4j_dist, "_handed_out_ports", set())
        assert neo4j_dist.free_port() == free
        with pytest.raises(neo4j_dist.Neo4jDistError, match="could not find a free port"):
            neo4j_dist.free_port()
    finally:
        taken.close()
