"""The one runner every operator command exits through (scripts/neo4j_ops/cli.py): the same exit codes and
one-line messages for check, security, diagnose, backup and restore."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from scripts.neo4j_ops import cli
from scripts.neo4j_ops.bolt import UNREACHABLE, BoltError
from scripts.neo4j_ops.shared.errors import BackupError, InterruptedRunError, UsageError, describe
from tests.conftest import ROOT


def raising(error: BaseException):
    def body() -> int:
        raise error
    return body


@pytest.mark.parametrize(("error", "code", "message"), [
    (UsageError("--stack: no such stack"), 2, "prog: --stack: no such stack"),
    (BackupError("neo4j-admin failed"), 1, "prog: FAILED: neo4j-admin failed"),
    (BoltError(UNREACHABLE, "cannot reach h:7687"), 1, "prog: FAILED: cannot reach h:7687"),
    (KeyboardInterrupt(), 130, "prog: interrupted"),
    (InterruptedRunError("stopped by SIGTERM"), 130, "prog: interrupted: stopped by SIGTERM"),
    (ZeroDivisionError("division by zero"), 1,
     "prog: FAILED: unexpected ZeroDivisionError: division by zero (set NEO4J_OPS_DEBUG=1 for a traceback)"),
])
def test_every_error_is_one_line_and_its_exit_code(error, code, message, capsys, monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert cli.run("prog", raising(error)) == code
    assert capsys.readouterr().err == message + "\n"


def test_the_body_says_its_own_status_and_the_debug_variable_shows_a_traceback(monkeypatch):
    assert cli.run("prog", lambda: cli.EXIT_FAILED) == 1
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(ZeroDivisionError):
        cli.run("prog", raising(ZeroDivisionError()))


def test_sigterm_interrupts_the_body_so_its_clean_up_runs(capsys):
    cleaned, before = [], signal.getsignal(signal.SIGTERM)

    def body() -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            return 0
        finally:
            cleaned.append(True)

    assert cli.run("prog", body) == 130 and cleaned == [True]
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before  # the command's handler is gone again


def test_errors_are_described_in_one_line():
    class ClientError(Exception):
        response = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}

    assert describe(ClientError()) == "AccessDenied: Access Denied"
    assert describe(OSError("disk\nfull")) == "OSError: disk full"
    assert describe(BackupError("two\nlines")) == "two\nlines"  # ours as raised
    assert describe(KeyError()) == "KeyError"


@pytest.mark.parametrize(("name", "required"), [
    ("check", []), ("security", []), ("diagnose", []),
    ("backup", ["--stack", "prod"]), ("restore", ["--stack", "prod", "--list"]),
])
def test_a_bad_option_is_one_line_and_exit_2_for_every_command(name, required):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *required, "--no-such-option"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "--no-such-option" in line and "(see --help)" in line
