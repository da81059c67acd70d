"""Restoring `system` (users, roles, privileges) on a single server, for real on every line: Neo4j Community
4.4, 5.26 and 2025 from Maven Central (tests/support/neo4j_dist.py pins them), configured by our templates,
and moto's S3, on 127.0.0.1.

Issue 20's acceptance: a user created before the backup and dropped after it can log in again once restore.py
has put `system` back (stop, `neo4j-admin database load system --overwrite-destination`, 4.4 `neo4j-admin load
--database=system --force`, start, compare what `system` holds with the manifest). The scripts run as
processes, as an operator runs them.
"""
from __future__ import annotations

import json

import pytest

from tests.support.cypher import can_log_in
from tests.support.neo4j_dist import NEO4J_VERSIONS

from .conftest import common_args, controlled_server, run_script
from .support import write_neo4j_commands

pytestmark = pytest.mark.integration

LINES = ("4.4", "5", "2025")  # 5: 5.26
ALICE = ("alice", "alice-secret-1")


@pytest.fixture(scope="module", params=LINES)
def line(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def server(line, tmp_path_factory):
    with controlled_server(tmp_path_factory.mktemp(f"neo4j-system-{line}"), NEO4J_VERSIONS[line]) as controlled:
        yield controlled


@pytest.fixture(scope="module")
def commands(line, tmp_path_factory):
    return write_neo4j_commands(tmp_path_factory.mktemp(f"neo4j-bin-{line}"), version=NEO4J_VERSIONS[line])


def on_system(server, cypher: str) -> None:
    with server.driver() as driver:
        driver.execute_query(cypher, database_="system")


def test_a_user_dropped_after_the_backup_logs_in_again_after_restoring_system(line, moto_s3, bucket, server,
                                                                            commands, tmp_path):
    on_system(server, f"CREATE USER {ALICE[0]} SET PASSWORD '{ALICE[1]}' CHANGE NOT REQUIRED")
    assert can_log_in(server.local, *ALICE)
    args = [*common_args(moto_s3, bucket, server, commands), "--database", "system"]
    staging = tmp_path / "staging"
    staging.mkdir()
    # --no-check: the consistency check of a dump is test_backup_check.py's.
    made = run_script("backup", [*args, "--method", "dump", "--offline-ok", "--no-check", "--json",
                                 "--staging-dir", str(staging)])
    assert made.returncode == 0, made.stderr
    backup = json.loads(made.stdout)

    on_system(server, f"DROP USER {ALICE[0]}")
    assert not can_log_in(server.local, *ALICE)

    work = tmp_path / "work"
    work.mkdir()
    restored = run_script("restore", [*args, "--work-dir", str(work), "--latest", "--yes", "--json"])
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert report["restored"] == backup["backup"]
    assert report["counts"] == report["manifest_counts"]  # what `system` holds, as the backup recorded it
    assert can_log_in(server.local, *ALICE)
    assert server.status()["running"]
