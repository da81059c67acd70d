"""The rehearsal's private dockerd is one per data root (tests/support/rehearsal/dockerd.py): a second run waits for
the first rather than fail beside it (a test session beside `make rehearse`), and gives up, naming the lock, after
LOCK_WAIT_SECONDS."""
from __future__ import annotations

import threading
import time

import pytest

from tests.support.rehearsal import dockerd


def test_a_second_user_waits_until_the_first_releases_the_data_root(tmp_path, capsys):
    lock = tmp_path / "dockerd.lock"
    held, release = threading.Event(), threading.Event()

    def first() -> None:
        with dockerd._exclusive(lock):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=first)
    holder.start()
    held.wait(10)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    with dockerd._exclusive(lock):
        waited = time.monotonic() - started
    holder.join()
    assert waited >= 0.4
    assert "waiting for another run's private dockerd" in capsys.readouterr().err


def test_a_second_user_gives_up_after_the_wait_naming_the_lock(tmp_path, monkeypatch):
    lock = tmp_path / "dockerd.lock"
    monkeypatch.setattr(dockerd, "LOCK_WAIT_SECONDS", 0)
    with dockerd._exclusive(lock), pytest.raises(RuntimeError, match="dockerd.lock"):
        with dockerd._exclusive(lock):
            pass
