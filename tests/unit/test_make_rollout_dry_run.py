"""`make rollout DRY_RUN=1 ARGS='--pending …'` asks Pulumi for nothing, as rollout.py --help says of `--pending` with
`--dry-run` ("no Pulumi CLI is needed"): the Makefile lets it through without the CLI, and the applying rollout still
stops at the Makefile's one line. Run with a PATH that holds no `pulumi` (none is installed on these machines)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from scripts.neo4j_ops.rollout.command import build_parser
from tests.conftest import ROOT

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")
CLI_MISSING = "make rollout: the Pulumi CLI is not installed"


def make_rollout(tmp_path, *args: str) -> subprocess.CompletedProcess:
    path = f"{tmp_path}:/usr/bin:/bin"
    assert all(shutil.which("pulumi", path=p) is None for p in path.split(":"))
    return subprocess.run([MAKE, "--no-print-directory", "rollout", "STACK=local", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={"HOME": os.environ.get("HOME", "/tmp"), "PATH": path})


def test_the_help_promises_no_pulumi_cli_for_a_dry_run_with_pending():
    help_text = " ".join(build_parser().format_help().split())
    assert "(with --dry-run, no Pulumi CLI is needed)" in help_text


def test_a_dry_run_with_pending_reaches_rollout_py_without_the_pulumi_cli(tmp_path):
    result = make_rollout(tmp_path, "DRY_RUN=1", "ARGS=--pending core-1")
    assert CLI_MISSING not in result.stderr
    # rollout.py itself ran: without --outputs-file or --uri the stack's outputs are what it lacks, and it says
    # how to give them instead (exit 2, a usage error)
    assert "rollout: --stack local needs the pulumi CLI" in result.stderr, result.stderr
    assert "give --outputs-file" in result.stderr


@pytest.mark.parametrize("args", [[], ["DRY_RUN=1"], ["ARGS=--pending core-1"]])
def test_anything_else_stops_at_the_makefiles_one_line(tmp_path, args):
    result = make_rollout(tmp_path, *args)
    assert result.returncode != 0
    assert CLI_MISSING in result.stderr
