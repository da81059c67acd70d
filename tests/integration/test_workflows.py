"""The GitHub workflows pass actionlint (which also runs shellcheck over every `run:` script)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

# scripts/install-tools.sh builds it here; one on PATH does as well.
PROJECT_ACTIONLINT = ROOT / ".tools" / "bin" / "actionlint"


def actionlint() -> str:
    if PROJECT_ACTIONLINT.exists():
        return str(PROJECT_ACTIONLINT)
    found = shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: run `make tools` (install-tools.sh builds it into .tools/bin)")
    return found


@pytest.mark.integration
def test_workflows_pass_actionlint():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows, "no workflow to lint"
    # shellcheck on PATH makes actionlint check the run: scripts too; install-tools.sh installs it.
    assert shutil.which("shellcheck"), "shellcheck is not installed: run `make tools`"
    result = subprocess.run([actionlint(), "-color=false", *map(str, workflows)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_actionlint_finds_a_broken_workflow(tmp_path: Path):
    # The check above can fail: an unknown runner label and a missing required input are reported.
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-2404\n    steps:\n      - run: echo $UNQUOTED\n")
    result = subprocess.run([actionlint(), "-color=false", str(broken)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "ubuntu-2404" in result.stdout
