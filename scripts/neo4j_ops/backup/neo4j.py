"""The Neo4j side: running neo4j-admin, stopping and starting the server, reading facts over Bolt."""
from __future__ import annotations

import collections
import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..errors import BackupError, UsageError
from .layout import Counts


def split_command(text: str, option: str) -> list[str]:
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise UsageError(f"{option}: cannot split {text!r} into words ({error})") from None
    if not words:
        raise UsageError(f"{option}: empty command")
    return words


class StderrTail:
    """Reads a process's stderr in a thread, keeping the last lines (and echoing them when asked)."""

    def __init__(self, stream, echo: Callable[[str], None] | None = None, keep: int = 40):
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self.echo = echo
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.lines.append(line)
                if self.echo:
                    self.echo(line)
        stream.close()

    def text(self) -> str:
        self.thread.join(timeout=5)
        return "\n".join(self.lines)


def _die_with_parent() -> None:  # child side of fork: SIGKILL when the backup/restore process dies
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


@dataclass
class AdminTool:
    """`neo4j-admin` as configured: the command (may be a wrapper), NEO4J_HOME and NEO4J_CONF."""
    command: list[str]
    home: Path | None = None
    conf: Path | None = None

    def env(self, conf: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        if self.home:
            env["NEO4J_HOME"] = str(self.home)
        if conf or self.conf:
            env["NEO4J_CONF"] = str(conf or self.conf)
        return env

    def describe(self, args: Sequence[str]) -> str:
        shown = [a if not a.startswith(("--from=", "--to")) or len(a) < 200 else a[:200] + "…" for a in args]
        return "neo4j-admin " + " ".join(shown)

    def run(self, args: Sequence[str], *, conf: Path | None = None, log: Callable[[str], None] | None = None,
            timeout: float | None = None, secret: str | None = None) -> str:
        """Run to completion; BackupError with the output's tail on failure. Returns stdout."""
        shown = self.describe(args if secret is None else [a.replace(secret, "***") for a in args])
        if log:
            log(f"running {shown}")
        out = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen([*self.command, *args], env=self.env(conf), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.PIPE, start_new_session=True,
                                    preexec_fn=_die_with_parent)
        except OSError as error:
            out.close()
            raise UsageError(f"cannot run neo4j-admin as {' '.join(self.command)!r}: {error}; "
                             f"set --neo4j-admin") from None
        tail = StderrTail(proc.stderr, echo=(lambda line: log(f"  {line}")) if log else None)
        with out:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(proc)
                raise BackupError(f"{shown} did not finish within {timeout:.0f}s") from None
            except BaseException:
                kill_group(proc)
                raise
            out.seek(0)
            stdout = out.read().decode("utf-8", "replace")
        errors = tail.text()
        if proc.returncode != 0:
            output = "\n".join(filter(None, [stdout.strip(), errors]))
            raise BackupError(f"{shown} failed (exit {proc.returncode}):\n{_indent(_last_lines(output, 25))}")
        return stdout

    def popen(self, args: Sequence[str], *, conf: Path | None = None) -> subprocess.Popen:
        try:
            return subprocess.Popen([*self.command, *args], env=self.env(conf), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                    preexec_fn=_die_with_parent)
        except OSError as error:
            raise UsageError(f"cannot run neo4j-admin as {' '.join(self.command)!r}: {error}; "
                             f"set --neo4j-admin") from None


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started in its own session, and whatever it forked (neo4j-admin forks a JVM)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=30)


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.strip().splitlines()[-count:]) or "(no output)"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


# --- Bolt ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    uri: str
    user: str
    password: str | None  # None: auth disabled

    @property
    def address(self) -> tuple[str, int]:
        parsed = urlparse(self.uri)
        return parsed.hostname or "localhost", parsed.port or 7687

    def driver(self):
        try:
            from neo4j import GraphDatabase
        except ImportError:
            raise UsageError("the neo4j Python driver is not installed: pip install neo4j") from None
        auth = (self.user, self.password) if self.password is not None else None
        return GraphDatabase.driver(self.uri, auth=auth, connection_timeout=10, max_connection_lifetime=60)


@dataclass(frozen=True)
class ServerFacts:
    version: str
    edition: str
    counts: Counts
    servers: int  # members the server knows of (1 when standalone)


def _bolt_errors():
    from neo4j.exceptions import DriverError, Neo4jError

    return (DriverError, Neo4jError, OSError)


def count_graph(connection: Connection, database: str) -> Counts:
    """Nodes and relationships, from the count store (constant time whatever the size)."""
    with connection.driver() as driver:
        nodes = driver.execute_query("MATCH (n) RETURN count(n) AS c", database_=database).records[0]["c"]
        rels = driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS c", database_=database).records[0]["c"]
    return Counts(int(nodes), int(rels))


def server_facts(connection: Connection, database: str) -> ServerFacts:
    """Version, edition, counts and cluster size; BackupError when the server cannot be asked."""
    from neo4j.exceptions import AuthError

    try:
        with connection.driver() as driver:
            record = driver.execute_query("CALL dbms.components() YIELD versions, edition "
                                          "RETURN versions[0] AS version, edition").records[0]
            servers = 1
            if record["edition"] == "enterprise":
                with contextlib.suppress(*_bolt_errors()):
                    servers = len(driver.execute_query("SHOW SERVERS YIELD name RETURN name",
                                                       database_="system").records) or 1
        counts = count_graph(connection, database)
    except AuthError as error:
        raise UsageError(f"Neo4j at {connection.uri} refused user {connection.user!r}: {error.message}; "
                         f"check the password variable (--password-env)") from None
    except _bolt_errors() as error:
        raise BackupError(f"cannot query database {database!r} at {connection.uri}: {_bolt_message(error)}") \
            from None
    return ServerFacts(str(record["version"]), str(record["edition"]), counts, servers)


def _bolt_message(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return message.splitlines()[0] if message else type(error).__name__


def wait_for_database(connection: Connection, database: str, timeout: float, log: Callable[[str], None],
                      process: subprocess.Popen | None = None) -> Counts:
    """Wait until `database` answers queries; returns its counts. BackupError after `timeout` seconds."""
    from neo4j.exceptions import AuthError

    deadline = time.monotonic() + timeout
    last = "no answer yet"
    next_note = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BackupError(f"the server exited (code {process.returncode}) before database {database!r} came up")
        if port_open(connection):
            try:
                return count_graph(connection, database)
            except AuthError as error:
                raise UsageError(f"Neo4j at {connection.uri} refused user {connection.user!r}: {error.message}") \
                    from None
            except _bolt_errors() as error:
                last = _bolt_message(error)
        if time.monotonic() >= next_note:
            log(f"waiting for database {database!r} at {connection.uri} ({last})")
            next_note = time.monotonic() + 15
        time.sleep(0.5)
    raise BackupError(f"database {database!r} at {connection.uri} did not come up within {timeout:.0f}s ({last})")


def port_open(connection: Connection) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            return sock.connect_ex(connection.address) == 0
        except OSError:
            return False


def wait_until_down(connection: Connection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while port_open(connection):
        if time.monotonic() > deadline:
            raise BackupError(f"Neo4j still answers on {connection.uri} {timeout:.0f}s after the stop command")
        time.sleep(0.3)


@dataclass
class ServerControl:
    """Stops and starts the production server with the configured commands (default: systemctl)."""
    stop_command: list[str]
    start_command: list[str]
    connection: Connection
    log: Callable[[str], None]
    timeout: float = 300

    def _run(self, words: list[str], what: str) -> None:
        self.log(f"{what}: {' '.join(words)}")
        try:
            proc = subprocess.run(words, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise BackupError(f"{what} command {' '.join(words)!r} failed: {error}") from None
        if proc.returncode != 0:
            output = _last_lines(proc.stdout + proc.stderr, 10)
            raise BackupError(f"{what} command {' '.join(words)!r} failed (exit {proc.returncode}):\n"
                              f"{_indent(output)}")

    def stop(self) -> None:
        self._run(self.stop_command, "stopping Neo4j")
        wait_until_down(self.connection, 120)

    def start(self, database: str) -> Counts:
        self._run(self.start_command, "starting Neo4j")
        return wait_for_database(self.connection, database, self.timeout, self.log)


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
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            try:
                self.process = subprocess.Popen(self.command, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True,
                                                preexec_fn=_die_with_parent)
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
            return _last_lines(self.log_file.read_text(errors="replace"), count)
        except OSError:
            return "(no log)"


def own(path: Path, user: str | None) -> None:
    """chown -R `path` to `user` (the account neo4j-admin runs as), when one is configured."""
    if not user:
        return
    try:
        shutil.chown(path, user, user)
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                shutil.chown(os.path.join(root, name), user, user)
    except (LookupError, OSError) as error:
        raise UsageError(f"cannot give {path} to user {user!r} (--owner): {error}") from None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
