"""The suite's own time report (tests/support/suite_timing.py): a module's CPU seconds, its children's included,
and its Neo4j server starts reach the report through pytest-xdist workers, each phase counted once."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
from tests.support.suite_timing import pytest_collection_finish, pytest_runtest_logreport,\
     pytest_runtest_makereport, pytest_terminal_summary
"""

# Spends ~1 s of CPU in a child process (reaped: it counts), in a module fixture's set-up, and says it started two
# servers that had spent 3 s when asked to stop (the counters Neo4jServer.start and .stop raise).
BUSY = """
import subprocess, sys
import pytest
from tests.support import neo4j_dist

BURN = "import time\\nend = time.process_time() + 1.0\\nwhile time.process_time() < end: pass"

@pytest.fixture(scope="module")
def busy():
    subprocess.run([sys.executable, "-c", BURN], check=True)
    neo4j_dist.SERVER_STARTS += 2
    neo4j_dist.SERVER_CPU += 3.0

def test_one(busy):
    pass

def test_two(busy):
    pass
"""

IDLE = """
def test_idle():
    pass
"""


def _report(tmp_path: Path, *args: str) -> str:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_busy.py").write_text(textwrap.dedent(BUSY))
    (tmp_path / "test_idle.py").write_text(IDLE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _cpu_rows(out: str) -> dict[str, tuple[float, int, float]]:
    section = out.split("most CPU", 1)[1]
    return {name: (float(cpu), int(starts), float(servers))
            for cpu, starts, servers, name in re.findall(r"^\s*([\d.]+)\s+(\d+)\s+([\d.]+)\s+(\S.*?)\s*$",
                                                         section, re.M)}


def test_module_cpu_and_server_starts_reach_the_report_from_xdist_workers(tmp_path):
    rows = _cpu_rows(_report(tmp_path, "-n", "2", "--dist", "loadscope"))
    busy = next(value for name, value in rows.items() if name.endswith("test_busy.py"))
    idle = next(value for name, value in rows.items() if name.endswith("test_idle.py"))
    # The child's second of CPU counts once (not once per later phase of the test that reaped it).
    assert 0.9 <= busy[0] < 1.9, rows
    assert busy[1:] == (2, 3.0), rows
    assert idle[1:] == (0, 0.0) and idle[0] < 0.9, rows
    assert rows["in all"][1:] == (2, 3.0), rows


def test_the_report_also_works_without_xdist(tmp_path):
    rows = _cpu_rows(_report(tmp_path))
    assert rows["in all"][1:] == (2, 3.0) and rows["in all"][0] >= 0.9, rows
