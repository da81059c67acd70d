"""The Neo4j a backup or restore works on: asked over Bolt through the runtime's one client, stopped and
started with the configured commands.

Every question opens its own connection and closes it: between two of them the server may have been
stopped and started again (a dump, a restore).
"""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from ..bolt import AUTH, TIMEOUT, Auth, BoltError, NeoTransport, Transport
from ..facts import Counts, ServerFacts, ServerSpec, count_graph, gather
from ..shared.errors import BackupError, UsageError
from .admin import indent, last_lines

T = TypeVar("T")

# How long facts() waits for an answer that is slow in coming: these times the timeout, one try each.
SLOW_ANSWER_FACTORS = (1, 3, 9)


class LocalNeo4j:
    """A Neo4j server on this machine (or the drill's scratch server), by Bolt URI and login."""

    def __init__(self, uri: str, auth: Auth | None, *, timeout: float = 10.0,
                 log: Callable[[str], None] = lambda _: None):
        self.spec = ServerSpec("local", uri)
        self.auth = auth  # None: authentication disabled
        self.timeout = timeout
        self.log = log

    @property
    def uri(self) -> str:
        return self.spec.uri

    def _ask(self, question: Callable[[Transport], T]) -> T:
        transport = NeoTransport(timeout=self.timeout)
        try:
            return question(transport)
        finally:
            transport.close()

    def _refused(self, error: BoltError) -> UsageError:
        user = self.auth.user if self.auth else None
        return UsageError(f"Neo4j at {self.uri} refused user {user!r} ({error.message}); check the password "
                          f"variable (--password-env)")

    def facts(self, database: str | None) -> ServerFacts:
        """Version, edition, cluster members, databases (SHOW DATABASES) and the counts of `database` (None: no
        counts); BackupError when it cannot be asked.

        A server that answers but not within the timeout (busy, or just started and still warming up: seen in the
        boot rehearsal, the first SHOW DATABASES of a new machine ran past 10 s) is asked again with a longer one,
        SLOW_ANSWER_FACTORS times the timeout: a nightly backup should not fail for a slow first answer."""
        for attempt, factor in enumerate(SLOW_ANSWER_FACTORS, 1):
            timeout = self.timeout * factor
            facts = self._ask(lambda transport, timeout=timeout: self._facts_once(transport, database, timeout))
            if facts.error is None:
                return facts
            if facts.error.kind == AUTH:
                raise self._refused(facts.error)
            if facts.error.kind != TIMEOUT or attempt == len(SLOW_ANSWER_FACTORS):
                break
            self.log(f"Neo4j at {self.uri} did not answer within {timeout:.0f} s; asking again with "
                     f"{self.timeout * SLOW_ANSWER_FACTORS[attempt]:.0f} s")
        what = f"database {database!r}" if database is not None else "its version and databases"
        raise BackupError(f"cannot ask Neo4j at {self.uri} for {what}: {facts.error.message}")

    def _facts_once(self, transport: Transport, database: str | None, timeout: float) -> ServerFacts:
        facts = gather(self.spec, transport, self.auth, timeout)
        if facts.reachable and database is not None:
            try:
                facts.counts = count_graph(transport.client(self.uri, self.auth), database, timeout)
            except BoltError as error:
                facts.error = error
        return facts

    def counts(self, database: str) -> Counts:
        return self._ask(lambda transport: count_graph(transport.client(self.uri, self.auth), database, self.timeout))

    def query(self, name: str, cypher: str, database: str) -> list[dict]:
        """The records of one read statement (BoltError when refused)."""
        return self._ask(lambda transport: transport.client(self.uri, self.auth).run(
            name, cypher, database=database, timeout=self.timeout).records)

    def port_open(self) -> bool:
        parts = urlsplit(self.uri)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            try:
                return sock.connect_ex((parts.hostname or "localhost", parts.port or 7687)) == 0
            except OSError:
                return False

    def wait_for_database(self, database: str, timeout: float, log: Callable[[str], None],
                          process: subprocess.Popen | None = None) -> Counts:
        """Wait until `database` answers queries; returns its counts. BackupError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        next_note = time.monotonic() + 15
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise BackupError(f"the server exited (code {process.returncode}) before database {database!r} "
                                  f"came up")
            if self.port_open():
                try:
                    return self.counts(database)
                except BoltError as error:
                    if error.kind == AUTH:
                        raise self._refused(error) from None
                    last = error.message
            if time.monotonic() >= next_note:
                log(f"waiting for database {database!r} at {self.uri} ({last})")
                next_note = time.monotonic() + 15
            time.sleep(0.5)
        raise BackupError(f"database {database!r} at {self.uri} did not come up within {timeout:.0f}s ({last})")

    def wait_until_down(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.port_open():
            if time.monotonic() > deadline:
                raise BackupError(f"Neo4j still answers on {self.uri} {timeout:.0f}s after the stop command")
            time.sleep(0.3)


@dataclass
class ServerControl:
    """Stops and starts the production server with the configured commands (default: systemctl)."""
    stop_command: list[str]
    start_command: list[str]
    neo4j: LocalNeo4j
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
            output = last_lines(proc.stdout + proc.stderr, 10)
            raise BackupError(f"{what} command {' '.join(words)!r} failed (exit {proc.returncode}):\n"
                              f"{indent(output)}")

    def stop(self) -> None:
        self._run(self.stop_command, "stopping Neo4j")
        self.neo4j.wait_until_down(120)

    def start(self, database: str) -> Counts:
        self._run(self.start_command, "starting Neo4j")
        return self.neo4j.wait_for_database(database, self.timeout, self.log)
