"""Ctrl-C during a `pulumi up` of the operations commands (scripts/neo4j_ops/pulumi_interrupt.py): the first is
raised only once the block (Pulumi's own graceful cancel) ends;
a second stops waiting at once; outside the main thread nothing changes."""
from __future__ import annotations

import os
import signal
import threading

import pytest

from scripts.neo4j_ops.pulumi_interrupt import interrupt_after_pulumi


def test_a_first_ctrl_c_is_raised_after_the_block_ends_and_the_handler_is_restored():
    lines: list[str] = []
    finished = []
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with interrupt_after_pulumi(lines.append, "up of core-3"):
            os.kill(os.getpid(), signal.SIGINT)
            finished.append("the block ran to its end")
    assert finished == ["the block ran to its end"]
    assert lines == ["interrupted: waiting for pulumi to finish the up of core-3 (it cancels once the operations in "
                     "flight are done); Ctrl-C again to stop waiting"]
    assert signal.getsignal(signal.SIGINT) is before


def test_what_the_cancelled_block_raises_becomes_the_interrupt():
    # Pulumi's cancelled update ends with an error; the rollout reports the interrupt (exit 130), not a failed step.
    with pytest.raises(KeyboardInterrupt):
        with interrupt_after_pulumi(lambda line: None, "up of core-3"):
            os.kill(os.getpid(), signal.SIGINT)
            raise RuntimeError("update canceled")


def test_a_second_ctrl_c_stops_waiting_at_once():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with interrupt_after_pulumi(lambda line: None, "up of core-3"):
            os.kill(os.getpid(), signal.SIGINT)
            reached.append("after the first")
            os.kill(os.getpid(), signal.SIGINT)
            reached.append("after the second")
    assert reached == ["after the first"]


def test_without_an_interrupt_the_block_is_as_it_is():
    with pytest.raises(ValueError, match="step failed"):
        with interrupt_after_pulumi(lambda line: None, "up of core-3"):
            raise ValueError("step failed")
    with interrupt_after_pulumi(lambda line: None, "up of core-3"):
        pass


def test_outside_the_main_thread_no_handler_is_installed():
    seen = []

    def step():
        with interrupt_after_pulumi(lambda line: None, "up of core-3"):
            seen.append(signal.getsignal(signal.SIGINT))

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=step)
    thread.start()
    thread.join()
    assert seen == [before]


def test_make_scales_pulumi_up_waits_for_pulumi_too(monkeypatch):
    # scripts/neo4j_ops/scaling/command.py pulumi_up: Ctrl-C while its `up` runs is raised once the up has ended.
    from pulumi import automation

    from scripts.neo4j_ops.scaling import command

    ended = []

    class Stack:
        def up(self, on_output):
            os.kill(os.getpid(), signal.SIGINT)
            ended.append("up ended as Pulumi ended it")

    monkeypatch.setattr(command.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(automation, "select_stack", lambda stack, work_dir: Stack())
    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        command.pulumi_up("prod", lines.append)
    assert ended == ["up ended as Pulumi ended it"]
    assert lines[-1].startswith("interrupted: waiting for pulumi to finish the up of stack prod")
