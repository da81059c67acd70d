"""The drill's write load: one client writing at a steady pace through the entry point, as an application would, and
what its attempts say (pure functions of the attempt log).

One writer thread: a write every 1/rate seconds (queries.py DRILL_WRITE, a node of the run with its sequence number,
in the default database). A failed attempt is retried after a short pause, as a driver's managed transaction would
(the real client's own retries are off: max_transaction_retry_time 0, bolt.py), until it is acknowledged or
`retry_for` seconds passed since its first attempt; then it counts as lost and the next write starts. While a write
is retried the next ones wait: a client's writes are ordered, so the load is never ahead of what was acknowledged.

Every attempt is kept (sequence, start, end, acknowledged or why not), so the figures come from the log alone:
  failed attempts, writes retried (acknowledged after a failure), writes lost;
  the write outage: from the first attempt that failed after the stop to the next acknowledged one;
  a new leader's first write: the first acknowledged attempt after the outage began (or, when no write failed,
  after the stop returned: the old leader is gone then), timed from the stop issued.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import queries as q
from ..bolt import Client
from ..shared.errors import OperationError, describe

RETRY_PAUSE = 0.2  # between attempts of one write: a driver's first back-off is about this


@dataclass(frozen=True)
class Attempt:
    seq: int
    started: float
    finished: float
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class Tally:
    writes: int
    acknowledged: int
    failed_attempts: int
    retried_writes: int
    lost_writes: int


class WriteLoad:
    """start() … stop(): writes through `client` to `database` until stopped; `attempts` is the log."""

    def __init__(self, client: Client, database: str, run_id: str, *, rate: float = 5.0, retry_for: float = 30.0,
                 timeout: float = 5.0, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.client, self.database, self.run_id = client, database, run_id
        self.interval, self.retry_for, self.timeout, self.clock = 1.0 / rate, retry_for, timeout, clock
        self.attempts: list[Attempt] = []
        self.lost: list[int] = []
        self.abandoned: list[int] = []  # a write still being retried when the load was stopped: neither kept nor lost
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.statement = dataclasses.replace(q.DRILL_WRITE, database=database)

    def start(self) -> WriteLoad:
        self._thread = threading.Thread(target=self._loop, name="drill-write-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Attempt]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.retry_for + 2 * self.timeout + 5)
        return self.log()

    def log(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def acknowledged(self) -> int:
        return sum(1 for a in self.log() if a.ok)

    def acknowledged_after(self, moment: float) -> Attempt | None:
        """The first acknowledged attempt that started at or after `moment`."""
        return next((a for a in self.log() if a.ok and a.started >= moment), None)

    def _attempt(self, seq: int) -> Attempt:
        began = self.clock()
        try:
            self.client.run(self.statement.name, self.statement.cypher, {"run": self.run_id, "seq": seq},
                            database=self.database, write=True, timeout=self.timeout)
            return Attempt(seq, began, self.clock(), True)
        except OperationError as error:
            return Attempt(seq, began, self.clock(), False, describe(error))

    def _loop(self) -> None:
        seq = 0
        next_tick = self.clock()
        while not self._stop.is_set():
            seq += 1
            first = self.clock()
            while True:
                attempt = self._attempt(seq)
                with self._lock:
                    self.attempts.append(attempt)
                if attempt.ok:
                    break
                if self.clock() - first >= self.retry_for:
                    with self._lock:
                        self.lost.append(seq)
                    break
                if self._stop.wait(RETRY_PAUSE):  # stopping: a failing write gets `timeout` more, then is abandoned
                    if self.clock() - first >= self.timeout:
                        with self._lock:
                            self.abandoned.append(seq)
                        break
                    time.sleep(RETRY_PAUSE)
            next_tick = max(next_tick + self.interval, self.clock())
            self._stop.wait(max(0.0, next_tick - self.clock()))


def tally(attempts: list[Attempt], abandoned: tuple[int, ...] | list[int] = ()) -> Tally:
    """Counts over the log: a write is lost when none of its attempts was acknowledged within its retry time; one the
    load's stop cut short (`abandoned`) is not counted as a write (its failed attempts are)."""
    by_seq: dict[int, list[Attempt]] = {}
    for a in attempts:
        if a.seq not in abandoned:
            by_seq.setdefault(a.seq, []).append(a)
    acknowledged = sum(1 for tries in by_seq.values() if any(a.ok for a in tries))
    retried = sum(1 for tries in by_seq.values() if any(a.ok for a in tries) and any(not a.ok for a in tries))
    return Tally(len(by_seq), acknowledged, sum(1 for a in attempts if not a.ok), retried,
                 len(by_seq) - acknowledged)


def outage(attempts: list[Attempt], stop_issued: float, stop_returned: float) -> tuple[float, float | None]:
    """(the write outage in seconds, the new leader's first acknowledged write in seconds after the stop was issued;
    None when no write was acknowledged after it)."""
    failed = next((a for a in attempts if not a.ok and a.started >= stop_issued), None)
    began = failed.started if failed is not None else stop_returned
    first = next((a for a in attempts if a.ok and a.started >= began), None)
    if first is None:
        return (max((a.finished for a in attempts), default=began) - began if failed else 0.0), None
    return (first.finished - failed.started if failed is not None else 0.0), first.finished - stop_issued
