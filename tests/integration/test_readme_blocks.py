"""Every `sh run` block of the README runs, as written, in a copy of the repository (so `make plan` and the local
tour write into the copy, never into the working tree; `.venv` is the repository's). The marking convention and the
placeholders are tests/support/readme_blocks.py's: `NEO4J_PASSWORD=… ` becomes the variable set to the suite's
5.26 server's password (`neo4j_server`, shared by the session) and `bolt://127.0.0.1:7687` its URI. The quick
start's tour (`make local-server` … `make local-stop`) starts the one server of its own this module starts, and
stops it whatever happens; its S3 emulator is moto on loopback, started and stopped by `make local-backup-restore`.
Blocks marked `sh not-run: <reason>` cannot run here (a real deploy, a deployed stack's machines):
tests/unit/test_readme_blocks.py checks every block is one or the other.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.moto_aws import ELSEWHERE
from tests.support.readme_blocks import README, Block, blocks

PLACEHOLDER_URI = "bolt://127.0.0.1:7687"
PLACEHOLDER_PASSWORD = "NEO4J_PASSWORD=… "
RUN = [b for b in blocks(README.read_text()) if b.kind == "run"]
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "build", ".tools", ".pytest_cache", "__pycache__", "*.pyc")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A copy of the repository (its files' times kept, so make sees .venv as current), with the repository's .venv."""
    copy = tmp_path_factory.mktemp("readme") / "repo"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORED, symlinks=True)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def script(block: Block, uri: str | None) -> str:
    lines = []
    for command in block.commands():
        command = command.replace(PLACEHOLDER_PASSWORD, "")
        if uri is not None:
            command = command.replace(PLACEHOLDER_URI, uri)
        lines.append(command)
    return "\n".join(lines)


def environment(tmp_path: Path, password: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ELSEWHERE and not k.startswith(("NEO4J_", "PULUMI_"))}
    env.update(NEO4J_PASSWORD=password, NEO4J_LOCAL_STATE_DIR=str(tmp_path / "neo4j-local-state"),
               AWS_EC2_METADATA_DISABLED="true", MAKEFLAGS="--no-print-directory")
    return env


def stop_leftover_server(state_dir: Path) -> None:
    """The tour's server, if a failed step left it running."""
    state = state_dir / "state.json"
    if state.exists():
        try:
            os.kill(int(json.loads(state.read_text())["pid"]), 15)
        except (ProcessLookupError, ValueError, KeyError):
            pass


def test_the_readme_has_blocks_to_run():
    assert len(RUN) >= 4


@pytest.mark.parametrize("block", RUN, ids=[f"line-{b.line}" for b in RUN])
def test_readme_block_runs_as_written(block, workspace, tmp_path, request):
    uri, password = None, "not-used-by-this-block"
    if PLACEHOLDER_URI in block.body or PLACEHOLDER_PASSWORD in block.body:
        server = request.getfixturevalue("neo4j_server")
        uri, password = server.uri, server.password
    env = environment(tmp_path, password)
    try:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script(block, uri)], cwd=workspace, env=env,
                                capture_output=True, text=True, timeout=1200)
    finally:
        stop_leftover_server(Path(env["NEO4J_LOCAL_STATE_DIR"]))
    assert result.returncode == 0, f"README.md:{block.line} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert "Traceback" not in result.stderr
    if "make local-backup-restore" in block.body:
        assert "restored: 100 nodes, 99 relationships, as before the backup" in result.stdout
        assert "all required checks passed" in result.stdout
        assert "neo4j-local: stopped" in result.stdout
        assert not (Path(env["NEO4J_LOCAL_STATE_DIR"]) / "state.json").exists()
