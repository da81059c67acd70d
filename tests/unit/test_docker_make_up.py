"""`make up` / `make down`: what they say when the Pulumi CLI or the Docker engine is missing, and how
they call Pulumi (with stand-in `pulumi` and `docker` programs: neither exists on these machines)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def make(target: str, path: str, stack: str = "local", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([MAKE, "--no-print-directory", target, f"STACK={stack}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"HOME": os.environ.get("HOME", "/tmp"), "PATH": path, **env})


def project_backend() -> str:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["backend"]["url"]


def our_lines(result: subprocess.CompletedProcess) -> list[str]:
    """stderr without make's own `make: *** [Makefile:…] Error 1` line."""
    return [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]


def stand_in(bin_dir: Path, name: str, script: str) -> None:
    program = bin_dir / name
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)


@pytest.mark.parametrize("target", ["up", "down"])
def test_without_the_pulumi_cli_it_says_so_in_one_line_and_fails(tmp_path, target):
    result = make(target, str(tmp_path))  # an empty PATH: no pulumi
    assert result.returncode != 0
    assert our_lines(result) == [f"make {target}: the Pulumi CLI is not installed (no pulumi on PATH); "
                                 f"install it: https://www.pulumi.com/docs/install/"]
    assert result.stdout == ""


def test_without_a_docker_engine_a_docker_stack_says_so_in_one_line_and_fails(tmp_path):
    stand_in(tmp_path, "pulumi", "exit 0")
    stand_in(tmp_path, "docker", 'echo "Cannot connect to the Docker daemon" >&2; exit 1')
    result = make("up", f"{tmp_path}:{os.environ['PATH']}")
    assert result.returncode != 0
    assert our_lines(result) == ["make up: stack local runs on Docker, but no Docker engine answers "
                                 "(docker info failed); start Docker and try again"]


def record_pulumi(bin_dir: Path) -> Path:
    calls = bin_dir / "calls"
    stand_in(bin_dir, "pulumi", f'echo "$PULUMI_BACKEND_URL $*" >> {calls}')
    stand_in(bin_dir, "docker", "exit 0")
    return calls


def test_up_creates_the_stack_if_needed_and_runs_pulumi_up_on_the_projects_backend(tmp_path):
    calls = record_pulumi(tmp_path)
    result = make("up", f"{tmp_path}:{os.environ['PATH']}", PULUMI_FLAGS="--yes")
    assert result.returncode == 0, result.stderr
    backend = project_backend()
    assert backend == "https://api.pulumi.com"  # named explicitly; the workflows use the same (Pulumi Cloud)
    assert calls.read_text().splitlines() == [f"{backend} stack select --create local",
                                              f"{backend} up --stack local --yes"]


def test_a_docker_stack_may_keep_its_state_in_a_backend_of_its_own(tmp_path):
    calls = record_pulumi(tmp_path)
    result = make("down", f"{tmp_path}:{os.environ['PATH']}", PULUMI_BACKEND_URL="file://~")
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == ["file://~ destroy --stack local"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_aws_stack_on_another_backend_is_refused_before_pulumi_runs(tmp_path, stack):
    # A laptop `make up STACK=prod` on a file backend would create a second prod, whose fixed
    # Secrets Manager names then collide with the real one's.
    calls = record_pulumi(tmp_path)
    result = make("up", f"{tmp_path}:{os.environ['PATH']}", stack=stack, PULUMI_BACKEND_URL="file://~")
    assert result.returncode != 0
    assert our_lines(result) == [f"make up: PULUMI_BACKEND_URL=file://~, but stack {stack} keeps its state in "
                                 f"{project_backend()} (Pulumi.yaml backend.url, as CI does); unset PULUMI_BACKEND_URL"]
    assert not calls.exists()


def test_an_aws_stack_on_the_projects_backend_runs(tmp_path):
    calls = record_pulumi(tmp_path)
    result = make("up", f"{tmp_path}:{os.environ['PATH']}", stack="dev", PULUMI_FLAGS="--yes")
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines()[-1] == f"{project_backend()} up --stack dev --yes"
