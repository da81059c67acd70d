"""The restore drill's throw-away server: its neo4j.conf, the ports it needs, and its process.

The conf is written in the dialect of the local Neo4j's version line (versions.py): 4.4's dbms.*
and causal_clustering.* settings, 5.x's server.* with discovery v2, 2025's dbms.cluster.endpoints.
The server runs `--scratch-command` in its own process group, on free loopback ports below the ephemeral
range, and is killed (with whatever it forked) when the drill ends or this process dies.
"""
from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..shared.errors import BackupError, UsageError
from ..shared.versions import VersionLine
from .admin import die_with_parent, last_lines, open_below, read_tail


def scratch_conf(line: VersionLine, edition: str, database: str, root: Path, ports: dict[str, int], heap: str,
                 page_cache: str) -> str:
    """neo4j.conf of the restore drill's throw-away server: everything under `root`, loopback only.

    `ports` needs "bolt", and for enterprise also "cluster", "raft", "routing" and "discovery" (5)
    so that nothing collides with the production server on the same machine.
    """
    enterprise = edition == "enterprise"
    if not line.has_server_settings:
        lines = [
            f"dbms.directories.data={root / 'data'}",
            f"dbms.directories.logs={root / 'logs'}",
            f"dbms.directories.run={root / 'run'}",
            "dbms.default_listen_address=127.0.0.1",
            "dbms.default_advertised_address=127.0.0.1",
            f"dbms.connector.bolt.listen_address=127.0.0.1:{ports['bolt']}",
            "dbms.connector.bolt.tls_level=DISABLED",
            "dbms.connector.http.enabled=false",
            "dbms.connector.https.enabled=false",
            "dbms.security.auth_enabled=true",
            f"dbms.default_database={database}",
            f"dbms.memory.heap.initial_size={heap}",
            f"dbms.memory.heap.max_size={heap}",
            f"dbms.memory.pagecache.size={page_cache}",
        ]
        if enterprise:
            lines += [
                "dbms.mode=SINGLE",
                "dbms.backup.enabled=false",
                "metrics.enabled=false",
                f"causal_clustering.discovery_listen_address=127.0.0.1:{ports['discovery']}",
                f"causal_clustering.transaction_listen_address=127.0.0.1:{ports['cluster']}",
                f"causal_clustering.raft_listen_address=127.0.0.1:{ports['raft']}",
                f"dbms.routing.listen_address=127.0.0.1:{ports['routing']}",
            ]
        return "\n".join(["# Restore drill: a throw-away server, loopback only.", *lines, ""])
    lines = [
        f"server.directories.data={root / 'data'}",
        f"server.directories.logs={root / 'logs'}",
        f"server.directories.run={root / 'run'}",
        "server.default_listen_address=127.0.0.1",
        "server.default_advertised_address=127.0.0.1",
        f"server.bolt.listen_address=127.0.0.1:{ports['bolt']}",
        f"server.bolt.advertised_address=127.0.0.1:{ports['bolt']}",
        "server.bolt.tls_level=DISABLED",
        "server.http.enabled=false",
        "server.https.enabled=false",
        "dbms.security.auth_enabled=true",
        f"initial.dbms.default_database={database}",
        f"server.memory.heap.initial_size={heap}",
        f"server.memory.heap.max_size={heap}",
        f"server.memory.pagecache.size={page_cache}",
        "dbms.usage_report.enabled=false",
    ]
    if enterprise:
        lines += [
            "server.backup.enabled=false",
            "server.metrics.enabled=false",
            f"server.cluster.listen_address=127.0.0.1:{ports['cluster']}",
            f"server.cluster.advertised_address=127.0.0.1:{ports['cluster']}",
            f"server.cluster.raft.listen_address=127.0.0.1:{ports['raft']}",
            f"server.cluster.raft.advertised_address=127.0.0.1:{ports['raft']}",
            f"server.routing.listen_address=127.0.0.1:{ports['routing']}",
            f"server.routing.advertised_address=127.0.0.1:{ports['routing']}",
            "dbms.cluster.discovery.resolver_type=LIST",
        ]
        if not line.discovery_on_cluster_port:
            lines += [
                f"server.discovery.listen_address=127.0.0.1:{ports['discovery']}",
                f"server.discovery.advertised_address=127.0.0.1:{ports['discovery']}",
                "dbms.cluster.discovery.version=V2_ONLY",
                f"dbms.cluster.discovery.v2.endpoints=127.0.0.1:{ports['cluster']}",
            ]
        else:
            lines.append(f"dbms.cluster.endpoints=127.0.0.1:{ports['cluster']}")
    return "\n".join(["# Restore drill: a throw-away server, loopback only.", *lines, ""])


def scratch_ports_needed(line: VersionLine, edition: str) -> tuple[str, ...]:
    if edition != "enterprise":
        return ("bolt",)
    if line.discovery_on_cluster_port:
        return ("bolt", "cluster", "raft", "routing")
    return ("bolt", "cluster", "raft", "routing", "discovery")


# The drill's ports come from below the machine's ephemeral range. bind(0) would hand out a port from that range,
# the one the kernel also picks outgoing connections' local ports from, so a port found free that way can be
# taken by any connection before the scratch server binds it (seen: the server exited at start, its port taken).
SCRATCH_PORTS = range(10000, 20000)
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")

# What a server logs when a listen address of it is taken (a PortBindException, "... is already in use"), looked
# for in the console and in neo4j.log; tests/integration/backup/test_backup_lines.py takes the drill server's Bolt
# port on 4.4, 5.26 and 2025 and checks the drill recognises it.
PORT_TAKEN = re.compile(r"PortBindException|is already in use|Address already in use")


def ephemeral_ports(path: Path = _EPHEMERAL_RANGE) -> range:
    """The kernel's range for outgoing connections' local ports (net.ipv4.ip_local_port_range)."""
    try:
        low, high = (int(word) for word in path.read_text().split())
        return range(low, high + 1)
    except (OSError, ValueError):
        return range(32768, 61000)  # Linux's default


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def scratch_ports(names: Sequence[str], *, candidates: Sequence[int] = SCRATCH_PORTS,
                  ephemeral: range | None = None, rng: random.Random | None = None) -> dict[str, int]:
    """A distinct loopback port for each of `names`, free now, drawn at random from `candidates` outside the
    ephemeral range; BackupError when there are none."""
    ephemeral = ephemeral_ports() if ephemeral is None else ephemeral
    pool = [port for port in candidates if port not in ephemeral]
    rng = rng or random.Random()
    chosen: dict[str, int] = {}
    for name in names:
        for port in rng.sample(pool, min(len(pool), 200)):
            if port not in chosen.values() and port_free(port):
                chosen[name] = port
                break
        else:
            raise BackupError(f"no free loopback port for the scratch server's {name} address among "
                              f"{candidates[0]}-{candidates[-1]} below the ephemeral range {ephemeral.start}-"
                              f"{ephemeral.stop - 1}")
    return chosen


def _signal_group(group: int, signum: int) -> bool:
    """Sends `signum` to a process group; False when no process is left in it."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    return True


def _group_alive(group: int) -> bool:
    return _signal_group(group, 0)


class ScratchServer:
    """The restore drill's throw-away server: `command` run with NEO4J_HOME/NEO4J_CONF, killed at the end.

    It writes to logs/console.log below `root` (the scratch folder), which the drill made; 5.x servers also log to
    logs/neo4j.log there. Both are opened without following a link: the neo4j user owns the folder while it runs."""

    def __init__(self, command: list[str], home: Path | None, conf_dir: Path, root: Path):
        self.command, self.home, self.conf_dir, self.root = command, home, conf_dir, root
        self.log_file = root / "logs" / "console.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        env = dict(os.environ)
        if self.home:
            env["NEO4J_HOME"] = str(self.home)
        env["NEO4J_CONF"] = str(self.conf_dir)
        # The drill makes the log file (root's) before the scratch folder goes to the neo4j user: opened as it is,
        # never through a link planted in its place since, nor made anew wherever a swapped folder points.
        try:
            log = open_below(self.log_file, os.O_WRONLY | os.O_APPEND, under=self.root)
        except OSError as error:
            raise UsageError(f"cannot open the scratch server's log {self.log_file} (a link is refused): {error}") \
                from None
        with open(log, "ab") as out:
            try:
                self.process = subprocess.Popen(self.command, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True,
                                                preexec_fn=die_with_parent)
            except OSError as error:
                raise UsageError(f"cannot start the scratch server with {' '.join(self.command)!r}: {error}; "
                                 f"set --scratch-command") from None
        return self.process

    def stop(self, timeout: float = 120) -> None:
        """Stops the server's whole process group (start_new_session: its id is the command's pid): the command and
        what it forked, a 5.x launcher's server JVM among them, also when the command itself has exited already and
        left them running. SIGTERM, then SIGKILL after `timeout`."""
        proc = self.process
        if proc is None:
            return
        group = proc.pid
        if not _signal_group(group, signal.SIGTERM):
            proc.poll()  # the group is empty: reap the command if it has not been
            return
        deadline = time.monotonic() + timeout
        while proc.poll() is None or _group_alive(group):
            if time.monotonic() > deadline:
                _signal_group(group, signal.SIGKILL)
                proc.wait(timeout=30)
                return
            time.sleep(0.1)

    def _logs(self) -> dict[str, str]:
        found = {}
        for name in ("console.log", "neo4j.log"):
            text = read_tail(self.root / "logs" / name, under=self.root)
            if text is not None and text.strip():
                found[name] = text
        return found

    def port_taken(self) -> bool:
        """Whether the server's logs say a listen address of it was taken."""
        return any(PORT_TAKEN.search(text) for text in self._logs().values())

    def log_tail(self, count: int = 30) -> str:
        """The last lines of the console and of neo4j.log (where 5.x writes why it stopped)."""
        logs = self._logs()
        if not logs:
            return f"(nothing in {self.root / 'logs'}/console.log or neo4j.log)"
        return "\n".join(f"{self.root / 'logs' / name}:\n{last_lines(text, count)}" for name, text in logs.items())
