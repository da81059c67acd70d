"""The restore drill's scratch server: its ports, its start, and what the drill shows when it does not come up.

The drill once failed in CI with "the server exited (code 1) before database 'neo4j' came up" and an empty
console.log: its port came from bind(0), inside the ephemeral range that outgoing connections draw from, and 5.x
writes why it stopped to logs/neo4j.log, which the report did not show. (That a real server's message for a taken
port is recognised is tested per line in tests/integration/backup/test_backup_lines.py.)
"""
from __future__ import annotations

import socket
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from scripts.neo4j_ops.backup import restore_backup
from scripts.neo4j_ops.backup.admin import read_tail
from scripts.neo4j_ops.backup.restore_backup import RestoreOptions, _start_scratch
from scripts.neo4j_ops.backup.scratch import ScratchServer, ephemeral_ports, scratch_ports
from scripts.neo4j_ops.shared.errors import BackupError
from scripts.neo4j_ops.shared.versions import line_of


def listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def free_ports(count: int) -> list[int]:
    """Ports free a moment ago (for candidates lists only: scratch_ports checks each again)."""
    socks = [listening() for _ in range(count)]
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def test_scratch_ports_are_distinct_free_and_never_in_the_ephemeral_range():
    taken = listening()
    try:
        port_taken = taken.getsockname()[1]
        in_ephemeral, *outside = free_ports(5)
        candidates = [port_taken, in_ephemeral, *outside]
        ports = scratch_ports(("bolt", "cluster", "raft", "routing"), candidates=candidates,
                              ephemeral=range(in_ephemeral, in_ephemeral + 1))
    finally:
        taken.close()
    assert sorted(ports.values()) == sorted(outside)  # each one once; not the taken one, not the ephemeral


def test_the_default_scratch_ports_lie_below_linuxs_default_ephemeral_range():
    ports = scratch_ports(("bolt", "cluster"), ephemeral=range(32768, 61000))
    assert all(port < 32768 for port in ports.values()) and len(set(ports.values())) == 2


def test_no_free_scratch_port_names_the_address_and_the_ranges():
    taken = listening()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(BackupError, match=f"no free loopback port for the scratch server's bolt address among "
                                              f"{port}-{port} below the ephemeral range 40000-40009"):
            scratch_ports(("bolt",), candidates=[port], ephemeral=range(40000, 40010))
    finally:
        taken.close()


def test_the_ephemeral_range_is_the_kernels(tmp_path):
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("40000\t50000\n")
    assert ephemeral_ports(setting) == range(40000, 50001)
    assert ephemeral_ports(tmp_path / "missing") == range(32768, 61000)  # Linux's default


def scratch_folder(tmp_path: Path) -> Path:
    root = tmp_path / "neo4j-drill-neo4j-20250301T020000Z"
    for sub in ("conf", "logs", "data"):
        (root / sub).mkdir(parents=True)
    (root / "logs" / "console.log").write_text("")
    return root


def stand_in_server(tmp_path: Path, body: str) -> list[str]:
    """A scratch command stand-in: a shell script that records each start in tmp_path/starts and runs `body`
    (its logs folder is $NEO4J_CONF/../logs, as the drill lays the scratch folder out)."""
    script = tmp_path / "stand-in-neo4j-console"
    script.write_text(f'#!/bin/sh\necho "$NEO4J_CONF" >> {tmp_path}/starts\nlogs="$NEO4J_CONF/../logs"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return [str(script)]


def drill_options(command: list[str], logged: list[str]) -> RestoreOptions:
    return RestoreOptions(bucket="b", stack="prod", database="neo4j", neo4j=None,
                          admin=SimpleNamespace(home=None), scratch_command=command, start_timeout=30,
                          log=logged.append)


def start(tmp_path: Path, body: str) -> tuple[list[str], list[str], pytest.ExceptionInfo]:
    root = scratch_folder(tmp_path)
    logged: list[str] = []
    opts = drill_options(stand_in_server(tmp_path, body), logged)
    with pytest.raises(BackupError) as failure:
        _start_scratch(opts, line_of("5.26.30"), "community", root, root / "conf", {"bolt": free_ports(1)[0]},
                       "secret")
    return (tmp_path / "starts").read_text().split(), logged, failure


def test_a_server_that_stops_before_coming_up_is_reported_with_its_neo4j_log(tmp_path):
    # 5.x writes why it stopped to neo4j.log, not to the console
    starts, _, failure = start(tmp_path, 'echo "ERROR Failed to start Neo4j: the store is broken" >> '
                                         '"$logs/neo4j.log"\nexit 1')
    message = str(failure.value)
    assert "the server exited (code 1) before database 'neo4j' came up" in message
    assert "neo4j.log:\nERROR Failed to start Neo4j: the store is broken" in message
    assert len(starts) == 1  # not a taken port: not started again


def test_a_server_whose_port_was_taken_starts_again_on_other_ports_then_gives_up(tmp_path, monkeypatch):
    monkeypatch.setattr(restore_backup, "scratch_ports", lambda names: {"bolt": free_ports(1)[0]})
    starts, logged, failure = start(tmp_path, 'echo "Caused by: org.neo4j.internal.helpers.PortBindException: '
                                              'Address already in use" >> "$logs/neo4j.log"\nexit 1')
    # each start with a conf folder of its own, made anew with other ports
    assert [Path(conf).name for conf in starts] == ["conf", "conf-2", "conf-3"]
    assert len(starts) == restore_backup.SCRATCH_STARTS
    assert sum("was taken before it bound it; starting it again on other ports" in line for line in logged) == 2
    assert "PortBindException" in str(failure.value)
    confs = [(Path(conf) / "neo4j.conf").read_text() for conf in starts[1:]]
    assert all("server.bolt.listen_address=127.0.0.1:" in conf for conf in confs)


def test_the_logs_shown_are_never_read_through_a_planted_link(tmp_path):
    victim = tmp_path / "secret"
    victim.write_text("root's secret\n")
    root = scratch_folder(tmp_path)
    (root / "logs" / "neo4j.log").symlink_to(victim)  # the neo4j user owns the scratch folder while it runs
    server = ScratchServer(["/bin/true"], None, root / "conf", root)
    assert "root's secret" not in server.log_tail()
    assert not server.port_taken()
    assert read_tail(root / "logs" / "neo4j.log", under=root) is None
    (root / "logs" / "neo4j.log").unlink()
    (root / "logs").rename(root / "logs-moved")
    (root / "logs").symlink_to(root / "logs-moved")  # a folder on the way swapped for a link
    assert read_tail(root / "logs" / "console.log", under=root) is None


def test_a_pipe_planted_as_a_log_is_not_waited_on(tmp_path):
    import os
    root = scratch_folder(tmp_path)
    os.mkfifo(root / "logs" / "neo4j.log")
    assert read_tail(root / "logs" / "neo4j.log", under=root) is None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def scratch_running(tmp_path: Path, body: str) -> ScratchServer:
    """A ScratchServer started on a shell script running `body`, in a scratch folder under tmp_path."""
    root = scratch_folder(tmp_path)
    script = tmp_path / "scratch-command"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    server = ScratchServer([str(script)], None, root / "conf", root)
    server.start()
    return server


def test_stop_ends_what_the_command_forked_also_after_the_command_itself_exited(tmp_path):
    # A launcher that forks the server and exits (as `neo4j start` does) leaves the server in its process group:
    # stop must end it, not return because the command it started is gone.
    server = scratch_running(tmp_path, f"sleep 300 &\necho $! > {tmp_path / 'child'}\nexit 0")
    server.process.wait(timeout=30)
    child = int((tmp_path / "child").read_text())
    assert alive(child)
    server.stop(timeout=10)
    assert not alive(child)
    server.stop(timeout=10)  # again: nothing left, nothing raised


def test_stop_of_a_server_that_ignores_sigterm_kills_it_after_the_timeout(tmp_path):
    server = scratch_running(tmp_path, f"trap '' TERM\necho $$ > {tmp_path / 'pid'}\nwhile :; do sleep 0.1; done")
    process = server.process
    while not (tmp_path / "pid").exists() or not (tmp_path / "pid").read_text().strip():
        assert process.poll() is None
    server.stop(timeout=1)
    assert process.returncode == -9
