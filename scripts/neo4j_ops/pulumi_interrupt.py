"""Ctrl-C during a `pulumi up` the operations commands run (a rollout step's, `make scale UP=1`'s): the command waits
for Pulumi to stop before it stops.

In a terminal, Ctrl-C reaches the whole foreground process group: the command and the `pulumi` CLI its Automation
API started. Pulumi's answer to a first Ctrl-C is a graceful cancel ("^C received; cancelling. If you would like to
terminate immediately, press ^C again.": the operations in flight complete, nothing new starts; a second one
terminates it; pkg/backend/cancellation_scope.go at v3.276.0). Python's, by default, is KeyboardInterrupt in
the command, and the Automation API's `subprocess.Popen` context then waits a quarter of a second for the CLI and
leaves it running (Popen.__exit__ on KeyboardInterrupt): the command would return the prompt while Pulumi still
changes the stack, its output pipe closed under it, and a rerun found the stack locked ("the stack is currently
locked by 1 lock(s)": tests/engine/test_engine_rollout_scale.py). So while the `up` runs, a first SIGINT is only
noted (with a line saying so), the `up` ends as Pulumi ends it, and the interrupt is raised then; a second SIGINT
stops waiting at once, as Pulumi's second Ctrl-C does.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def interrupt_after_pulumi(log: Callable[[str], None], what: str) -> Iterator[None]:
    """Defer a first SIGINT until the block ends, then raise KeyboardInterrupt (whatever the block raised); only in
    the main thread (the only one Python delivers signals to), elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def on_interrupt(signum, frame):  # noqa: ARG001
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        log(f"interrupted: waiting for pulumi to finish the {what} (it cancels once the operations in flight are "
            f"done); Ctrl-C again to stop waiting")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    except BaseException:
        if received:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
