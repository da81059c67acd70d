"""The plan's summary reads as tables whatever the names: every column at least two spaces from the next (an
artifact named `neo4j-backup-freshness.service` once ran into its count), and a Docker stack shows no AWS zones
(its containers run on one engine)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from scripts.neo4j_ops.plan.summary import table_lines
from tests.conftest import ROOT


def plan_summary(stack: str, out) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "plan.py"), "--stack", stack, "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        body.append(line)
    return body


def test_columns_are_as_wide_as_their_longest_cell_plus_two():
    rows = table_lines([("name", ["a", "a-very-long-name.service"]), ("count", ["x1", "x12"])])
    assert rows == ["  name                      count",
                    "  a                         x1",
                    "  a-very-long-name.service  x12"]


@pytest.mark.parametrize("stack", ["prod", "local"])
def test_artifact_and_component_counts_stand_apart_from_their_names(tmp_path, stack):
    text = plan_summary(stack, tmp_path / stack)
    artifacts = section(text, "Artifacts (")
    assert artifacts
    for line in artifacts:
        assert re.fullmatch(r"  \S+ {2,}x\d+", line), line
    components = [line for line in section(text, "Resources per component:") if not re.match(r"  \w+ \(\d+\):", line)]
    for line in components:
        assert re.fullmatch(r"  \S+ {2,}\d+", line), line
    count = int(re.search(r"Artifacts \((\d+) files\)", text)[1])
    assert count == sum(int(line.rsplit("x", 1)[1]) for line in artifacts)


def test_a_docker_stack_shows_no_zones_and_an_aws_stack_shows_each_servers(tmp_path):
    local = plan_summary("local", tmp_path / "local")
    header = next(line for line in local.splitlines() if line.strip().startswith("server "))
    assert header.split() == ["server", "role", "address"]
    assert not re.search(r"\b[a-z]{2}-[a-z]+-\d[a-z]\b", local)  # no zone name such as us-east-1a anywhere
    prod = plan_summary("prod", tmp_path / "prod")
    header = next(line for line in prod.splitlines() if line.strip().startswith("server "))
    assert header.split() == ["server", "role", "zone", "address"]
    assert "core-1     primary    eu-west-1a  core-1.prod.neo4j.internal" in prod
