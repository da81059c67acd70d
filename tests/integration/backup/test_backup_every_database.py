"""backup.py --database '*' for real on every line (Neo4j Community 4.4.46, 5.26.30 and 2025.10.1, moto's S3 on
127.0.0.1): one run reads the databases from the server (SHOW DATABASES: `neo4j` and `system`, all Community
has), dumps both within ONE stop of the server, exits 0, and writes the run manifest last, listing both with
their backups' prefixes; each database's own backup is complete (its manifest) and passed its check.
"""
from __future__ import annotations

import json

import pytest

from scripts.neo4j_ops.backup.layout import parse_manifest
from scripts.neo4j_ops.backup.run_manifest import parse_run_manifest, run_key
from tests.support.neo4j_dist import NEO4J_VERSIONS

from .conftest import common_args, controlled_server, keys, run_script
from .support import write_neo4j_commands

pytestmark = pytest.mark.integration

LINES = ("4.4", "5", "2025")


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


def test_one_run_backs_up_system_and_neo4j_within_one_stop_and_lists_both(line, moto_s3, bucket, server, commands,
                                                                          tmp_path):
    server.query("MATCH (n) DETACH DELETE n")
    server.query("UNWIND range(1, 20) AS i CREATE (:Item {i: i})")
    before = server.status()
    made = run_script("backup", [*common_args(moto_s3, bucket, server, commands), "--database", "*", "--offline-ok",
                                 "--json", "--staging-dir", str(tmp_path)])
    assert made.returncode == 0, made.stderr
    result = json.loads(made.stdout)
    assert result["failed"] == []
    assert [db["name"] for db in result["databases"]] == ["system", "neo4j"]

    after = server.status()
    assert after["running"]
    assert (after["stops"] - before["stops"], after["starts"] - before["starts"]) == (1, 1)  # not one per database

    s3 = moto_s3.client()
    body = s3.get_object(Bucket=bucket, Key=run_key("test", result["run"]))["Body"].read()
    run = parse_run_manifest(body, expect_stack="test", expect_timestamp=result["run"])
    assert [(db.name, db.status, db.backup_type) for db in run.databases] == [("system", "complete", "dump"),
                                                                             ("neo4j", "complete", "dump")]
    assert run.edition == "community" and run.neo4j_version == NEO4J_VERSIONS[line]
    assert not run.aliases_read and run.aliases == () and run.composites == ()  # Community has no SHOW ALIASES
    held = keys(moto_s3, bucket)
    written = {item["Key"]: item["LastModified"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert written[run_key("test", result["run"])] == max(written.values())  # the run manifest is written last
    for db in run.databases:
        assert f"{db.prefix}manifest.json" in held
        manifest = parse_manifest(s3.get_object(Bucket=bucket, Key=f"{db.prefix}manifest.json")["Body"].read(),
                                  expect_stack="test", expect_database=db.name)
        assert manifest.check == "passed", manifest.check_detail
    neo4j_manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{run.databases[1].prefix}manifest.json")["Body"]
                                .read())
    assert neo4j_manifest["counts"] == {"nodes": 20, "relationships": 0}
