"""scripts/check.py --wait against a real Neo4j Community server that is not up yet when the check
starts (as after `pulumi up`, before cloud-init has installed Neo4j): the check waits, says so once,
and passes when the server comes up. And: Ctrl-C ends a wait with 130; a name that does not
resolve is one plain line through the real driver."""
from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import PASSWORD
from tests.support.neo4j_dist import free_port
from tests.support.neo4j_local import prepare

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def start_check(*args: str) -> subprocess.Popen:
    env = {**os.environ, "NEO4J_PASSWORD": PASSWORD, "PYTHONFAULTHANDLER": "1"}
    env.pop("NEO4J_USER_PASSWORDS", None)
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "check.py"), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_shell)


def as_from_a_shell() -> None:
    """Ctrl-C as a shell delivers it to a foreground command: SIGINT at its default disposition and not blocked.
    A child inherits an ignored SIGINT (and Python then installs no KeyboardInterrupt handler) and a blocked one:
    under CI the test's pytest-xdist worker sometimes had one of them after earlier tests, and check slept on in
    its wait loop with the signal never arriving (the thread dump below showed it in wait.py's sleep)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def read_until(proc: subprocess.Popen, needle: str, seconds: float) -> str:
    """stderr of `proc` until a line contains `needle` (or fail after `seconds`)."""
    seen, deadline = "", time.monotonic() + seconds
    selector = selectors.DefaultSelector()
    selector.register(proc.stderr, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = proc.stderr.readline()
            seen += line
            if needle in line:
                return seen
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"no line with {needle!r} within {seconds} s; stderr so far:\n{seen}")


def test_wait_started_before_the_server_passes_once_it_is_up(tmp_path):
    local = prepare(tmp_path / "late", password=PASSWORD)
    proc = start_check("--uri", local.uri, "--tls", "disabled", "--expect-edition", "community", "--wait", "4m",
                       "--timeout", "3")
    try:
        before = read_until(proc, "not answering", 60)
        assert f"127.0.0.1:{local.bolt_port}: not answering: cannot reach 127.0.0.1:{local.bolt_port}: " \
               f"connection refused" in before
        local.start()
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        local.stop()
    assert proc.returncode == 0, out + before + err
    progress = before + err
    assert progress.count("not answering") == 1  # one line per change, not one per round
    assert f"127.0.0.1:{local.bolt_port}: up: Neo4j {local.version} community" in progress
    assert "cluster: formed: all 1 server answer" in progress and "ready after " in progress
    assert "all required checks passed" in out


def test_wait_that_runs_out_exits_1_naming_the_server():
    port = free_port()
    proc = start_check("--uri", f"bolt://127.0.0.1:{port}", "--tls", "disabled", "--wait", "5s", "--timeout", "1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert re.search(rf"check: NOT READY after \d+ s \(--wait 5s\): still missing: 127\.0\.0\.1:{port} "
                     rf"\(not answering: ", err), err


def test_ctrl_c_ends_a_wait_with_130():
    proc = start_check("--uri", f"bolt://127.0.0.1:{free_port()}", "--tls", "disabled", "--wait", "10m",
                       "--timeout", "1")
    read_until(proc, "not answering", 30)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        # faulthandler (PYTHONFAULTHANDLER, set by start_check) dumps every thread's stack on SIGABRT: says where.
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"check did not end within 30 s of Ctrl-C; its threads:\n{err[-6000:]}") from None
    assert proc.returncode == 130, err
    assert "check: interrupted" in err


def test_a_name_that_does_not_resolve_is_one_plain_line():
    proc = start_check("--uri", "bolt://core-1.prod.neo4j-cluster.invalid:7687", "--tls", "disabled",
                       "--timeout", "3")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    line = next(line for line in out.splitlines() if line.startswith("FAIL  bolt:"))
    assert "core-1.prod.neo4j-cluster.invalid does not resolve: this machine must resolve the cluster's private " \
           "zone" in line
    assert "runner's VPC" in line and "Resolver inbound endpoint" in line
