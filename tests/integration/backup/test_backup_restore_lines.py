"""Backup, restore and the restore drill for real on the 4.4 and 2025 lines: Neo4j Community 4.4.x and
2025.x from Maven Central (tests/support/neo4j_dist.py pins them), configured by our templates, and
moto's S3, on 127.0.0.1.

test_backup_restore.py runs the whole matrix (corruption, incomplete backups, interrupted uploads,
refusals) on 5.26; here the representative path runs on the other two lines: a community dump goes
to S3, comes back over a destroyed graph, and the drill restores it into a throw-away server of the
line. On 4.4 the dump goes through a local staging file (4.4's `neo4j-admin dump` cannot write to
standard output); on 2025 it streams, as on 5.26. The scripts run as processes, exactly as the
systemd job and an operator run them.
"""
from __future__ import annotations

import json

import pytest

from tests.support.neo4j_dist import NEO4J_VERSIONS

from .conftest import common_args, controlled_server, keys, run_script
from .support import write_neo4j_commands

pytestmark = pytest.mark.integration

LINES = ("4.4", "2025")
PEOPLE = 150


@pytest.fixture(scope="module", params=LINES)
def line(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def server(line, tmp_path_factory):
    with controlled_server(tmp_path_factory.mktemp(f"neo4j-prod-{line}"), NEO4J_VERSIONS[line]) as controlled:
        yield controlled


@pytest.fixture(scope="module")
def commands(line, tmp_path_factory):
    return write_neo4j_commands(tmp_path_factory.mktemp(f"neo4j-bin-{line}"), version=NEO4J_VERSIONS[line])


def write_graph(server, people: int = PEOPLE) -> tuple[int, int]:
    server.query("MATCH (n) DETACH DELETE n")
    server.query("UNWIND range(1, $n) AS i CREATE (:Person {id: i, name: 'person ' + i})", n=people)
    server.query("MATCH (a:Person), (b:Person) WHERE b.id = a.id + 1 CREATE (a)-[:KNOWS {since: a.id}]->(b)")
    return server.counts()


@pytest.fixture(scope="module")
def reference(line, moto_s3, server, commands, tmp_path_factory):
    """One backup of a known graph, taken by backup.py (the server stopped and started by command):
    (bucket, what backup.py printed, the graph's counts)."""
    bucket = f"backups-{line.replace('.', '-')}"
    moto_s3.client().create_bucket(Bucket=bucket)
    counts = write_graph(server)
    staging = tmp_path_factory.mktemp(f"staging-{line}")
    made = run_script("backup", [*common_args(moto_s3, bucket, server, commands), "--offline-ok", "--json",
                                 "--staging-dir", str(staging)])
    assert made.returncode == 0, made.stderr
    return bucket, json.loads(made.stdout), counts


def test_the_community_dump_is_in_s3_with_its_manifest(line, moto_s3, server, reference):
    bucket, made, counts = reference
    assert counts == (PEOPLE, PEOPLE - 1)
    assert made["type"] == "dump" and made["counts_exact"]
    stamp = made["backup"]
    assert keys(moto_s3, bucket) == [f"test/neo4j/{stamp}/{name}"
                                     for name in ("check-report.txt", "manifest.json", "neo4j.dump")]
    manifest = json.loads(moto_s3.client().get_object(Bucket=bucket, Key=f"test/neo4j/{stamp}/manifest.json")
                          ["Body"].read())
    assert manifest["neo4j_version"] == NEO4J_VERSIONS[line] and manifest["version_line"] == line
    assert manifest["counts"] == {"nodes": PEOPLE, "relationships": PEOPLE - 1}
    assert manifest["size"] == made["size"] and manifest["sha256"] == made["sha256"]
    # Checked for real on the line: 2025 `database check --from-path`, 4.4 loaded into a scratch store and
    # `check-consistency --database` run on it.
    assert manifest["check"] == "passed", manifest["check_detail"]
    assert server.status()["running"]  # started again after the dump


def test_restore_over_a_destroyed_graph_gives_back_the_same_counts(moto_s3, server, commands, reference, tmp_path):
    bucket, made, counts = reference
    server.query("MATCH (n) DETACH DELETE n")
    assert server.counts() == (0, 0)
    restored = run_script("restore", [*common_args(moto_s3, bucket, server, commands), "--work-dir", str(tmp_path),
                                      "--latest", "--yes", "--json"])
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored"] == made["backup"]
    assert server.counts() == counts
    assert server.query("MATCH (p:Person {id: 7})-[:KNOWS]->(q) RETURN q.name AS name")[0]["name"] == "person 8"


def test_restore_drill_restores_into_a_scratch_server_of_the_line(moto_s3, server, commands, reference, tmp_path):
    bucket, made, counts = reference
    status = server.status()
    drill = run_script("restore", [*common_args(moto_s3, bucket, server, commands), "--work-dir", str(tmp_path),
                                   "--latest", "--verify-only", "--json",
                                   "--scratch-command", str(commands["console"])])
    assert drill.returncode == 0, drill.stderr
    report = json.loads(drill.stdout)
    assert report["verified"] == made["backup"]
    assert (report["counts"]["nodes"], report["counts"]["relationships"]) == counts
    assert server.status() == status  # production neither stopped nor started
    assert not any(tmp_path.iterdir())  # the scratch server's files are gone
