"""The restore drill's throw-away server: its neo4j.conf, the ports it needs, and its process.

The conf is written in the dialect of the local Neo4j's version line (versions.py): 4.4's dbms.*
and causal_clustering.* settings, 5.x's server.* with discovery v2, 2025's dbms.cluster.endpoints.
The server runs `--scratch-command` in its own process group, on free loopback ports, and is killed
(with whatever it forked) when the drill ends or this process dies.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path

from ..shared.errors import UsageError
from ..shared.versions import VersionLine
from .admin import die_with_parent, last_lines


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


class ScratchServer:
    """The restore drill's throw-away server: `command` run with NEO4J_HOME/NEO4J_CONF, killed at the end."""

    def __init__(self, command: list[str], home: Path | None, conf_dir: Path, log_file: Path):
        self.command, self.home, self.conf_dir, self.log_file = command, home, conf_dir, log_file
        self.process: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        env = dict(os.environ)
        if self.home:
            env["NEO4J_HOME"] = str(self.home)
        env["NEO4J_CONF"] = str(self.conf_dir)
        # The drill makes the log file (root's) before the scratch folder goes to the neo4j user: opened as it is,
        # never through a link planted in its place since, nor made anew wherever a swapped folder points.
        try:
            log = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
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
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def log_tail(self, count: int = 30) -> str:
        try:
            return last_lines(self.log_file.read_text(errors="replace"), count)
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
