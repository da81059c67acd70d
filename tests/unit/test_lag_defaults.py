"""The replication lag a copy is allowed when no --max-lag is given: 10 s for check, rollout and diagnose,
through each command's real argument parser, as its --help and the README say; the library functions the
commands call default to the same."""
from __future__ import annotations

import inspect
import re

import pytest

from scripts.neo4j_ops import checks, diagnose, rollout
from scripts.neo4j_ops.checks.run import run_checks
from scripts.neo4j_ops.diagnose.report import Thresholds
from scripts.neo4j_ops.rollout.run import rollout as rollout_run
from tests.conftest import ROOT

DEFAULT_MAX_LAG = 10.0
PARSERS = {"check": checks.build_parser, "rollout": rollout.build_parser, "diagnose": diagnose.build_parser}


@pytest.mark.parametrize("command", PARSERS)
def test_without_the_flag_a_copy_may_lag_10_seconds_and_help_says_so(command):
    parser = PARSERS[command]()
    assert parser.parse_args([]).max_lag == DEFAULT_MAX_LAG
    [action] = [a for a in parser._actions if "--max-lag" in a.option_strings]
    assert action.help.endswith(f"(default: {DEFAULT_MAX_LAG:g})"), action.help


def test_the_readme_states_checks_default_lag():
    readme = (ROOT / "README.md").read_text()
    check = re.search(r"^- `check`: (.*?)^- ", readme, re.M | re.S)[1]
    assert re.findall(r"replication lag under (\d+) s", " ".join(check.split())) == [f"{DEFAULT_MAX_LAG:g}"]


def test_the_functions_the_commands_call_default_to_the_same_lag():
    assert inspect.signature(run_checks).parameters["max_lag"].default == DEFAULT_MAX_LAG
    assert inspect.signature(rollout_run).parameters["max_lag"].default == DEFAULT_MAX_LAG
    assert Thresholds().max_lag_seconds == DEFAULT_MAX_LAG
