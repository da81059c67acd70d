"""Whole-DBMS backups and their restores for real on every line: Neo4j Community 4.4.46, 5.26.30 and 2025.10.1
from Maven Central (tests/support/neo4j_dist.py pins them), configured by our templates, and moto's S3, on
127.0.0.1. The scripts run as processes, exactly as the systemd job and an operator run them.

One server per line and ONE `backup.py --database '*'` run per line, which every test of the line reads (a backup
is the costly part: the server stops and starts, each dump is consistency-checked):
- the run reads the databases from the server (SHOW DATABASES: `neo4j` and `system`, all Community has), dumps
  both within one stop of the server, and writes the run manifest last, listing both with their backups' prefixes;
  each database's own backup is complete (its manifest) and passed its check (4.4: loaded into a scratch store and
  `check-consistency` run on it; 5.26 and 2025: `database check --from-path`). On 4.4 a dump goes through a local
  staging file (4.4's `neo4j-admin dump` cannot write to standard output); on 5.26 and 2025 it streams;
- the restore drill restores the neo4j backup into a throw-away server of the line, production untouched,
  starting it again when the line's server reports its Bolt port taken;
- restore.py puts `neo4j` back over a destroyed graph;
- issue 20's acceptance: a user created before the backup and dropped after it logs in again once restore.py has
  put `system` back (stop, `neo4j-admin database load system --overwrite-destination`, 4.4 `neo4j-admin load
  --database=system --force`, start, compare what `system` holds with the manifest).

test_backup_restore.py runs the whole matrix of one database (corruption, incomplete backups, interrupted uploads,
refusals) on 5.26.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pytest

from scripts.neo4j_ops.backup.layout import parse_manifest
from scripts.neo4j_ops.backup.run_manifest import RunManifest, parse_run_manifest, run_key
from tests.support.cypher import can_log_in
from tests.support.neo4j_dist import NEO4J_VERSIONS

from .conftest import common_args, controlled_server, keys, run_script
from .support import ControlledServer, console_whose_first_bolt_port_is_taken, write_neo4j_commands

pytestmark = pytest.mark.integration

LINES = ("4.4", "5", "2025")  # 5: 5.26
PEOPLE = 150
ALICE = ("alice", "alice-secret-1")


@pytest.fixture(scope="module", params=LINES)
def line(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def server(line, tmp_path_factory):
    with controlled_server(tmp_path_factory.mktemp(f"neo4j-all-{line}"), NEO4J_VERSIONS[line]) as controlled:
        yield controlled


@pytest.fixture(scope="module")
def commands(line, tmp_path_factory):
    return write_neo4j_commands(tmp_path_factory.mktemp(f"neo4j-bin-all-{line}"), version=NEO4J_VERSIONS[line])


def on_system(server: ControlledServer, cypher: str) -> None:
    with server.driver() as driver:
        driver.execute_query(cypher, database_="system")


@dataclass(frozen=True)
class LineBackup:
    bucket: str
    result: dict          # backup.py --json
    run: RunManifest      # the run manifest in S3
    counts: tuple[int, int]  # the graph in `neo4j` when it was backed up
    stops_and_starts: tuple[int, int]  # of the server, during the run


@pytest.fixture(scope="module")
def backed_up(line, moto_s3, server, commands, tmp_path_factory) -> LineBackup:
    """The line's one whole-DBMS backup: a graph in `neo4j` and a user (alice) in `system`."""
    bucket = f"backups-all-{line.replace('.', '-')}"
    moto_s3.client().create_bucket(Bucket=bucket)
    server.query("MATCH (n) DETACH DELETE n")
    server.query("UNWIND range(1, $n) AS i CREATE (:Person {id: i, name: 'person ' + i})", n=PEOPLE)
    server.query("MATCH (a:Person), (b:Person) WHERE b.id = a.id + 1 CREATE (a)-[:KNOWS {since: a.id}]->(b)")
    on_system(server, f"CREATE USER {ALICE[0]} SET PASSWORD '{ALICE[1]}' CHANGE NOT REQUIRED")
    assert can_log_in(server.local, *ALICE)
    before = server.status()
    made = run_script("backup", [*common_args(moto_s3, bucket, server, commands), "--database", "*", "--offline-ok",
                                 "--json", "--staging-dir", str(tmp_path_factory.mktemp(f"staging-all-{line}"))])
    assert made.returncode == 0, made.stderr
    after = server.status()
    result = json.loads(made.stdout)
    body = moto_s3.client().get_object(Bucket=bucket, Key=run_key("test", result["run"]))["Body"].read()
    return LineBackup(bucket, result, parse_run_manifest(body, expect_stack="test", expect_timestamp=result["run"]),
                      server.counts(),
                      (after["stops"] - before["stops"], after["starts"] - before["starts"]))


def test_one_run_backs_up_system_and_neo4j_within_one_stop_and_lists_both(line, moto_s3, server, backed_up):
    result, run = backed_up.result, backed_up.run
    assert result["failed"] == []
    assert [db["name"] for db in result["databases"]] == ["system", "neo4j"]
    assert server.status()["running"]
    assert backed_up.stops_and_starts == (1, 1)  # not one per database
    assert [(db.name, db.status, db.backup_type) for db in run.databases] == [("system", "complete", "dump"),
                                                                             ("neo4j", "complete", "dump")]
    assert run.edition == "community" and run.neo4j_version == NEO4J_VERSIONS[line]
    assert not run.aliases_read and run.aliases == () and run.composites == ()  # Community has no SHOW ALIASES
    s3 = moto_s3.client()
    written = {item["Key"]: item["LastModified"] for item in s3.list_objects_v2(Bucket=backed_up.bucket)["Contents"]}
    assert written[run_key("test", result["run"])] == max(written.values())  # the run manifest is written last
    for db in run.databases:
        # Each database's backup is whole: its dump, the check's report and its manifest, which is valid.
        assert sorted(key for key in keys(moto_s3, backed_up.bucket) if key.startswith(db.prefix)) == [
            f"{db.prefix}{name}" for name in ("check-report.txt", "manifest.json", f"{db.name}.dump")]
        manifest = parse_manifest(s3.get_object(Bucket=backed_up.bucket, Key=f"{db.prefix}manifest.json")["Body"]
                                  .read(), expect_stack="test", expect_database=db.name)
        assert manifest.check == "passed", manifest.check_detail


def test_the_neo4j_dump_has_its_lines_manifest_with_the_graphs_counts(line, moto_s3, backed_up):
    neo4j = next(db for db in backed_up.run.databases if db.name == "neo4j")
    manifest = json.loads(moto_s3.client().get_object(Bucket=backed_up.bucket, Key=f"{neo4j.prefix}manifest.json")
                          ["Body"].read())
    assert backed_up.counts == (PEOPLE, PEOPLE - 1)
    assert manifest["neo4j_version"] == NEO4J_VERSIONS[line] and manifest["version_line"] == line
    assert manifest["backup_type"] == "dump"
    assert manifest["counts"] == {"nodes": PEOPLE, "relationships": PEOPLE - 1} and manifest["counts_exact"]
    dump = moto_s3.client().get_object(Bucket=backed_up.bucket, Key=f"{neo4j.prefix}neo4j.dump")["Body"].read()
    assert (manifest["size"], manifest["sha256"]) == (len(dump), hashlib.sha256(dump).hexdigest())


def neo4j_stamp(backed_up: LineBackup) -> str:
    prefix = next(db.prefix for db in backed_up.run.databases if db.name == "neo4j")
    return prefix.rstrip("/").rsplit("/", 1)[1]


def test_restore_drill_restores_into_a_scratch_server_of_the_line_also_when_its_port_is_taken(
        moto_s3, server, commands, backed_up, tmp_path, tmp_path_factory):
    # The scratch server's first start finds its Bolt port taken (as it did once in CI, when the port came from
    # bind(0)): the line's real server must say so in words the drill knows, and the drill starts it again.
    console = console_whose_first_bolt_port_is_taken(tmp_path_factory.mktemp("bin") / "console", commands["console"])
    status = server.status()
    drill = run_script("restore", [*common_args(moto_s3, backed_up.bucket, server, commands), "--work-dir",
                                   str(tmp_path), "--latest", "--verify-only", "--json",
                                   "--scratch-command", str(console)])
    assert drill.returncode == 0, drill.stderr
    assert drill.stderr.count("was taken before it bound it; starting it again on other ports") == 1, drill.stderr
    report = json.loads(drill.stdout)
    assert report["verified"] == neo4j_stamp(backed_up)
    assert (report["counts"]["nodes"], report["counts"]["relationships"]) == backed_up.counts
    assert server.status() == status  # production neither stopped nor started
    assert not any(tmp_path.iterdir())  # the scratch server's files are gone


def test_restore_over_a_destroyed_graph_gives_back_the_same_counts(moto_s3, server, commands, backed_up, tmp_path):
    server.query("MATCH (n) DETACH DELETE n")
    assert server.counts() == (0, 0)
    restored = run_script("restore", [*common_args(moto_s3, backed_up.bucket, server, commands), "--work-dir",
                                      str(tmp_path), "--latest", "--yes", "--json"])
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored"] == neo4j_stamp(backed_up)
    assert server.counts() == backed_up.counts
    assert server.query("MATCH (p:Person {id: 7})-[:KNOWS]->(q) RETURN q.name AS name")[0]["name"] == "person 8"


def test_a_user_dropped_after_the_backup_logs_in_again_after_restoring_system(moto_s3, server, commands, backed_up,
                                                                            tmp_path):
    on_system(server, f"DROP USER {ALICE[0]}")
    assert not can_log_in(server.local, *ALICE)
    restored = run_script("restore", [*common_args(moto_s3, backed_up.bucket, server, commands), "--database",
                                      "system", "--work-dir", str(tmp_path), "--latest", "--yes", "--json"])
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    system = next(db.prefix for db in backed_up.run.databases if db.name == "system")
    assert report["restored"] == system.rstrip("/").rsplit("/", 1)[1]
    assert report["counts"] == report["manifest_counts"]  # what `system` holds, as the backup recorded it
    assert can_log_in(server.local, *ALICE)
    assert server.status()["running"]
