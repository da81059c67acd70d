"""The RENDERED haproxy.cfg of an enterprise cluster (3 primaries, 2 secondaries) run by a real
haproxy on loopback, with only addresses and ports substituted (tests/support/haproxy.py).

Each "server" is a fake health endpoint answering as the Operations Manual 5.x says
(clustering/monitoring/endpoints, "Unified HTTP endpoint responses"):

    /db/<databasename>/cluster/writable   Leader 200 OK `true`, Follower 404 Not Found `false`,
                                          Secondary 404 Not Found `false`
    /db/<databasename>/cluster/available  Leader 200 OK `true`, Follower 200 OK `true`,
                                          Secondary 200 OK `true`

plus a Bolt stand-in that names itself to each connection, so we see where HAProxy sends writes and
reads; the last test puts a real Neo4j Community server's Bolt port behind the write backend. The
rendered `inter 2s fall 3 rise 2` is kept: a server is marked down within fall x inter = 6 s (less
right after a start, when its health is not yet full) and up within rise x inter = 4 s.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from pathlib import Path

import pytest

from components.render import render_haproxy_cfg
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.integration.conftest import PASSWORD
from tests.support.haproxy import (
    ClusterState,
    EchoServer,
    HealthEndpoints,
    Loopback,
    can_drop_privileges,
    changed_lines,
    is_closed,
    loopback_cfg,
    loopback_dirs,
    running_haproxy,
    server_names,
    who_answers,
)
from tests.support.neo4j_dist import free_port

pytestmark = pytest.mark.integration

INTER, FALL, RISE, CHECK_TIMEOUT = 2, 3, 2, 3
# HAProxy starts a server's next check `inter` after the last one ended, and a check ends within `timeout
# check`: the flip lands up to one interval before the first check that sees it, then FALL (RISE) checks run.
# On an idle machine the stand-in endpoints answer in a millisecond (about 8 s); on a loaded one the bound
# must not take a slow check for a wrong count of checks (it did, under CI beside other work).
MARKED_DOWN_WITHIN = INTER + FALL * (INTER + CHECK_TIMEOUT)
MARKED_UP_WITHIN = 2 * INTER + RISE * (INTER + CHECK_TIMEOUT)
SERVERS = ["core-1", "core-2", "core-3", "replica-1", "replica-2"]


@pytest.fixture(scope="module")
def rendered() -> str:
    # enterprise (tests.conftest.BASE); tls optional: the stand-in health endpoints answer plain HTTP (neo4j:tls
    # defaults to required, whose HTTPS checks `haproxy -c` reads in test_artifacts_real_tools.py).
    settings = make_settings(coreCount=3, replicaCount=2, tls="optional")
    cfg = render_haproxy_cfg(settings, plan_topology(settings))
    assert f"inter {INTER}s fall {FALL} rise {RISE}" in cfg
    assert f"timeout check {CHECK_TIMEOUT}s" in cfg
    assert server_names(cfg, "neo4j_read") == SERVERS
    return cfg


@contextlib.contextmanager
def cluster_behind_haproxy(rendered: str, tmp_path, state: ClusterState, bolt: dict[str, int] | None = None):
    """Health endpoints + echo backends (or the given Bolt ports) for SERVERS, the rendered config on
    loopback in front of them; yields (haproxy, health endpoints, loopback). Everything is stopped."""
    health = HealthEndpoints(SERVERS, state)
    echoes = {name: EchoServer(name) for name in SERVERS if name not in (bolt or {})}
    try:
        traffic = {**{name: echo.port for name, echo in echoes.items()}, **(bolt or {})}
        loopback = Loopback(binds={"bolt_write": free_port(), "bolt_read": free_port(), "stats": free_port(),
                                   "health": free_port()},
                            servers={name: (traffic[name], health.port(name)) for name in SERVERS},
                            nameserver_port=free_port(), maxconn=1000, **loopback_dirs(tmp_path))
        cfg = loopback_cfg(rendered, loopback)
        assert_only_addresses_and_ports_differ(rendered, cfg)
        with running_haproxy(cfg, tmp_path, listen_ports=list(loopback.binds.values()),
                             stats_port=loopback.binds["stats"]) as proxy:
            proxy.wait_for_first_checks()
            yield proxy, health, loopback
    finally:
        health.close()
        for echo in echoes.values():
            echo.close()


def assert_only_addresses_and_ports_differ(rendered: str, cfg: str) -> None:
    changes = changed_lines(rendered, cfg)
    allowed = ("bind :", "server ", "parse-resolv-conf", "maxconn 20000", "stats socket /var/lib/haproxy/",
               "server-state-file /var/lib/haproxy/")
    privileges = [(before, after) for before, after in changes if before.strip().startswith(("chroot ", "user ",
                                                                                            "group "))]
    changes = [change for change in changes if change not in privileges]
    assert all(before.strip().startswith(allowed) for before, _ in changes), changes
    assert len(changes) == 4 + 3 + 5 + 1 + 1 + 2  # binds, write servers, read servers, resolv, maxconn, state
    # Root here: only the chroot moves to an empty directory; otherwise chroot, user and group are left out.
    assert len(privileges) == (1 if can_drop_privileges() else 3), privileges


def writers(loopback: Loopback, count: int = 6) -> list[str]:
    """Who answers `count` successive connections to the write frontend (each closed again)."""
    names = []
    for _ in range(count):
        sock, name = who_answers(loopback.binds["bolt_write"])
        sock.close()
        names.append(name)
    return names


def test_writes_reach_only_the_leader_and_reads_every_available_server(rendered, tmp_path):
    state = ClusterState(leader="core-2", unavailable={"replica-2"})
    with cluster_behind_haproxy(rendered, tmp_path, state) as (_, health, loopback):
        assert writers(loopback) == ["core-2"] * 6
        # leastconn: 8 connections held open spread over the 4 available servers, 2 each.
        held = [who_answers(loopback.binds["bolt_read"]) for _ in range(8)]
        try:
            readers = sorted(name for _, name in held)
        finally:
            for sock, _ in held:
                sock.close()
        assert readers == sorted(["core-1", "core-2", "core-3", "replica-1"] * 2)
        assert all(health.requests[name] > 0 for name in SERVERS)  # every server was health checked


def test_writes_follow_the_leader_and_sessions_on_the_old_leader_are_closed(rendered, tmp_path):
    state = ClusterState(leader="core-1")
    with cluster_behind_haproxy(rendered, tmp_path, state) as (proxy, health, loopback):
        old_write, name = who_answers(loopback.binds["bolt_write"])
        assert name == "core-1"
        reads = [who_answers(loopback.binds["bolt_read"]) for _ in range(5)]
        try:
            assert sorted(n for _, n in reads) == sorted(SERVERS)
            health.update(leader="core-3")
            flipped = time.monotonic()
            while not is_closed(old_write):
                assert time.monotonic() - flipped < MARKED_DOWN_WITHIN, \
                    f"the session on the old leader is still open after {MARKED_DOWN_WITHIN}s"
            closed_after = time.monotonic() - flipped
            # Only the write backend marked core-1 down: reads on core-1 (still available) stay.
            assert [n for s, n in reads if is_closed(s)] == []
            # New writes reach the new leader once it is up (rise 2: no writer for a few seconds).
            while True:
                with contextlib.suppress(OSError):
                    if writers(loopback, 1) == ["core-3"]:
                        break
                assert time.monotonic() - flipped < closed_after + MARKED_UP_WITHIN, proxy.states()
                time.sleep(0.2)
            assert writers(loopback) == ["core-3"] * 6
        finally:
            old_write.close()
            for sock, _ in reads:
                sock.close()


def test_a_server_that_stops_being_available_leaves_reads_and_its_read_sessions_close(rendered, tmp_path):
    state = ClusterState(leader="core-1")
    with cluster_behind_haproxy(rendered, tmp_path, state) as (_, health, loopback):
        reads = [who_answers(loopback.binds["bolt_read"]) for _ in range(5)]
        try:
            on_replica = next(sock for sock, name in reads if name == "replica-1")
            health.update(unavailable={"replica-1"})
            flipped = time.monotonic()
            while not is_closed(on_replica):
                assert time.monotonic() - flipped < MARKED_DOWN_WITHIN, "the read session on replica-1 is open"
            assert [n for s, n in reads if n != "replica-1" and is_closed(s)] == []
            held = [who_answers(loopback.binds["bolt_read"]) for _ in range(8)]
            try:
                assert "replica-1" not in {name for _, name in held}
                assert {name for _, name in held} == {"core-1", "core-2", "core-3", "replica-2"}
            finally:
                for sock, _ in held:
                    sock.close()
        finally:
            for sock, _ in reads:
                sock.close()


def test_a_real_bolt_session_to_a_leader_marked_down_is_closed(rendered, tmp_path, neo4j_server):
    """core-1 is a real Neo4j Community server (its Bolt port); its writable check is a fake we flip."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import DriverError

    state = ClusterState(leader="core-1")
    bolt = {"core-1": neo4j_server.bolt_port}
    with cluster_behind_haproxy(rendered, tmp_path, state, bolt=bolt) as (proxy, health, loopback):
        uri = f"bolt://127.0.0.1:{loopback.binds['bolt_write']}"
        with GraphDatabase.driver(uri, auth=("neo4j", PASSWORD), connection_timeout=5,
                                  max_transaction_retry_time=0) as driver:
            session = driver.session(database="neo4j")
            tx = session.begin_transaction()
            try:
                assert tx.run("CALL dbms.components() YIELD edition RETURN edition").single()[0] == "community"
                health.update(leader="core-2")
                flipped = time.monotonic()
                error = None
                while error is None:
                    try:
                        assert tx.run("RETURN 1").single()[0] == 1
                    except DriverError as caught:
                        error = caught
                        break
                    assert time.monotonic() - flipped < MARKED_DOWN_WITHIN, \
                        f"the Bolt session on the old leader still works after {MARKED_DOWN_WITHIN}s"
                    time.sleep(0.25)
                print(f"closed after {time.monotonic() - flipped:.1f}s: {type(error).__name__}: {error}")
                assert proxy.states()[("neo4j_write", "core-1")] == "DOWN"
            finally:
                with contextlib.suppress(Exception):
                    tx.close()
                with contextlib.suppress(Exception):
                    session.close()
    log = (tmp_path / "haproxy.log").read_text()
    assert "neo4j_write/core-1 is DOWN" in log
    # Our session's own TCP log line says why it ended. HAProxy's configuration manual (2.6, 8.5 "Session state at
    # disconnection"), first character: "D : the session was killed by HAProxy because the server was detected as
    # down and was configured to kill all connections when going down." (on-marked-down shutdown-sessions). The DOWN
    # line's "N sessions active" is no proof: the kill runs on another thread and can end the session before that
    # line is written (CI logged "0 sessions active" while the session's own line said D-).
    # (tcplog: client [date] frontend backend/server Tw/Tc/Tt bytes termination_state ...)
    ended = re.findall(r"^\S+ \[[^]]+\] bolt_write neo4j_write/core-1 \S+ \d+ (\S+) ", log, re.MULTILINE)
    assert ended and {state[0] for state in ended} == {"D"}, log[-3000:]


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _uid_gid(pid: int) -> tuple[int, int]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["Uid"].split()[1]), int(status["Gid"].split()[1])  # effective ids


def _identity(pid: int) -> tuple[tuple[int, int], str] | None:
    """A process's effective (uid, gid) and root directory; None once it has exited."""
    try:
        return _uid_gid(pid), os.readlink(f"/proc/{pid}/root")
    except FileNotFoundError:
        return None


def test_workers_run_as_the_haproxy_user_in_the_chroot_and_keep_the_socket_and_reloads(rendered, tmp_path):
    """HAProxy's configuration manual (global section): "chroot <jail dir> Changes current directory to <jail
    dir> and performs a chroot() there before dropping privileges. [...] This only works when the process is
    started with superuser privileges." and "user <user name> Similar to "uid" but uses the UID of user name
    <user name> from /etc/passwd." The rendered global section asks for both; here a master started by root
    (as systemd starts it) runs workers that are the haproxy user inside the jail, before and after a reload,
    while the admin socket (owned by root, opened before the chroot) answers the sync script's query."""
    import grp
    import pwd
    import signal

    global_section = rendered.split("\nresolvers ")[0]
    assert "\n    chroot /var/lib/haproxy\n" in global_section
    assert "\n    user haproxy\n" in global_section and "\n    group haproxy\n" in global_section
    if not can_drop_privileges():
        pytest.skip("needs root and the haproxy user (Debian's haproxy package creates it)")
    haproxy_ids = pwd.getpwnam("haproxy").pw_uid, grp.getgrnam("haproxy").gr_gid
    state = ClusterState(leader="core-1")
    health = HealthEndpoints(SERVERS, state)
    echoes = {name: EchoServer(name) for name in SERVERS}
    try:
        loopback = Loopback(binds={"bolt_write": free_port(), "bolt_read": free_port(), "stats": free_port(),
                                   "health": free_port()},
                            servers={name: (echoes[name].port, health.port(name)) for name in SERVERS},
                            nameserver_port=free_port(), maxconn=1000, **loopback_dirs(tmp_path))
        jail = tmp_path / "jail"
        (tmp_path / "state" / "server-state").write_text("1\n")
        cfg = loopback_cfg(rendered, loopback)
        assert f"    chroot {jail}\n" in cfg
        with running_haproxy(cfg, tmp_path, listen_ports=list(loopback.binds.values()),
                             stats_port=loopback.binds["stats"], master_worker=True) as proxy:
            proxy.wait_for_first_checks()
            master = proxy.process.pid
            assert _uid_gid(master) == (0, 0)  # the master re-executes itself on reload: it stays root
            first = _worker_pids(master)
            assert first and all(_uid_gid(pid) == haproxy_ids for pid in first)
            assert all(os.readlink(f"/proc/{pid}/root") == str(jail) for pid in first)
            assert writers(loopback) == ["core-1"] * 6

            socket_path = tmp_path / "state" / "admin.sock"
            assert socket_path.stat().st_uid == 0 and oct(socket_path.stat().st_mode & 0o777) == "0o600"
            with socket.socket(socket.AF_UNIX) as admin:
                admin.settimeout(5)
                admin.connect(str(socket_path))
                admin.sendall(b"show servers state\n")
                answer = b""
                while chunk := admin.recv(65536):
                    answer += chunk
            assert answer.startswith(b"1\n") and b" neo4j_write " in answer and b" core-1 " in answer

            os.kill(master, signal.SIGUSR2)  # what `systemctl reload haproxy` sends to the master
            # A new worker is forked by the root master and then chroots and drops its privileges: until it has,
            # it is root outside the jail (CI saw one so, read just after the fork). What is asserted is the state
            # it settles in, within the wait.
            deadline = time.monotonic() + 15
            while True:
                new = {pid: _identity(pid) for pid in _worker_pids(master) if pid not in first}
                settled = {pid: who for pid, who in new.items() if who is not None}
                if settled and all(who == (haproxy_ids, str(jail)) for who in settled.values()):
                    break
                assert time.monotonic() < deadline, f"after the reload, workers (ids, root): {new}"
                time.sleep(0.1)
            proxy.wait_for_first_checks()
            assert writers(loopback) == ["core-1"] * 6
    finally:
        health.close()
        for echo in echoes.values():
            echo.close()


def _get(port: int, path: str, source: str) -> tuple[int, str]:
    import http.client
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_the_stats_page_answers_only_on_loopback_and_metrics_to_any_allowed_peer(rendered, tmp_path):
    """127.0.0.2 is a peer that is not the node itself (Linux routes all of 127/8 to lo, but the rendered rule
    trusts 127.0.0.1 and ::1 only): it gets /metrics, as Prometheus does, and a 403 for the stats page."""
    with cluster_behind_haproxy(rendered, tmp_path, ClusterState(leader="core-1")) as (_, _, loopback):
        port = loopback.binds["stats"]
        status, body = _get(port, "/metrics", "127.0.0.2")
        assert status == 200 and "haproxy_backend_active_servers" in body
        assert _get(port, "/stats", "127.0.0.2")[0] == 403
        assert _get(port, "/stats;csv", "127.0.0.2")[0] == 403
        assert _get(port, "/", "127.0.0.2")[0] == 403
        status, body = _get(port, "/stats;csv", "127.0.0.1")
        assert status == 200 and "neo4j_write,core-1," in body
