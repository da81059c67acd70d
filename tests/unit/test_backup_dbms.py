"""backup.py --database '*': every database the server lists at run time and `system`, one chain each, one run
manifest written last (dbms_backup.py, run_manifest.py).

The pure parts (which databases, the run manifest and its parse) are table-driven; the run itself uses the
stand-in neo4j-admin of the Enterprise tests, moto's S3 in-process, and the server's answers given (a 5.26
cluster's SHOW DATABASES rows, recorded, plus a database created later, a composite and its aliases).
"""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest

from scripts.neo4j_ops.backup import dbms_backup, freshness
from scripts.neo4j_ops.backup.admin import AdminTool
from scripts.neo4j_ops.backup.backup_run import BackupOptions
from scripts.neo4j_ops.backup.run_manifest import (
    ALL,
    PASSWORD_NOTE,
    RunManifestError,
    parse_run_manifest,
    run_key,
    select_databases,
    wanted_databases,
)
from scripts.neo4j_ops.facts import Counts, ServerFacts, ServerSpec
from scripts.neo4j_ops.shared.errors import BackupError
from tests.support.backup_standins import FAKE_ADMIN, recorded_show_databases

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
RECORDED = recorded_show_databases("cluster-5.26-healthy")  # neo4j and system, one row per allocation


def rows_named(name: str) -> list[dict]:
    """The recorded neo4j rows as if they were of another standard database (hosted on the same servers)."""
    return [{**row, "name": name} for row in RECORDED if row["name"] == "neo4j"]


COMPOSITE = {"name": "library", "type": "composite", "constituents": ["library.books", "library.films"],
             "address": None, "role": None}
ROWS = [*RECORDED, *rows_named("sales"), *rows_named("broken"), COMPOSITE]
ALIASES = [
    {"name": "library.books", "composite": "library", "database": "sales", "location": "local", "url": None,
     "user": None, "driver": None, "properties": {}},
    {"name": "library.films", "composite": "library", "database": "films", "location": "remote",
     "url": "neo4j+s://films.example:7687", "user": "reader", "driver": {"connection_timeout": 60.0},
     "properties": {}},
]


# --- which databases ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "wanted"), [
    ("neo4j", ["neo4j"]), ("*", ["*"]), ("neo4j,system", ["neo4j", "system"]), (" neo4j , sales,neo4j", ["neo4j",
                                                                                                        "sales"])])
def test_database_option_takes_one_name_several_or_all(text, wanted):
    assert wanted_databases(text) == wanted


@pytest.mark.parametrize(("wanted", "chosen", "missing"), [
    ([ALL], ["system", "broken", "neo4j", "sales"], []),  # every standard database and system; not the composite
    (["s*"], ["system", "sales"], []),
    (["neo4j", "ghost"], ["neo4j"], ["ghost"]),
    (["library"], [], ["library (not a standard database)"]),  # a composite has no backup of its own
])
def test_all_is_every_standard_database_the_server_lists_and_system(wanted, chosen, missing):
    assert select_databases(ROWS, wanted) == (chosen, missing)


def test_on_4_4_without_a_type_column_every_listed_database_is_backed_up():
    rows = [{"name": "neo4j", "address": "a"}, {"name": "neo4j", "address": "b"}, {"name": "system", "address": "a"},
            {"name": "orders", "address": "a"}]
    assert select_databases(rows, [ALL]) == (["system", "neo4j", "orders"], [])


# --- the run manifest -------------------------------------------------------------------------------------


def manifest_document(**changes) -> dict:
    document = {
        "format": 1, "stack": "prod", "timestamp": "20250301T020000Z", "started": "2025-03-01T02:00:00Z",
        "completed": "2025-03-01T02:05:00Z", "host": "backup-1", "neo4j_version": "5.26.30", "edition": "enterprise",
        "databases": [{"name": "neo4j", "status": "complete", "prefix": "prod/neo4j/20250301T020001Z/",
                       "backup_type": "full", "check": "passed", "error": None},
                      {"name": "system", "status": "failed", "prefix": None, "backup_type": None, "check": None,
                       "error": "neo4j-admin exited 1"}],
        "composites": [{"name": "library", "constituents": ["library.books"]}],
        "aliases": [ALIASES[1]], "aliases_read": True, "notes": [PASSWORD_NOTE]}
    document.update(changes)
    return document


def test_a_run_manifest_parses_and_says_which_databases_failed():
    manifest = parse_run_manifest(json.dumps(manifest_document()), expect_stack="prod",
                                  expect_timestamp="20250301T020000Z")
    assert [db.name for db in manifest.databases] == ["neo4j", "system"]
    assert manifest.failed == ["system"]
    assert manifest.composites[0].constituents == ("library.books",)
    assert manifest.aliases[0].url == "neo4j+s://films.example:7687" and manifest.aliases[0].user == "reader"
    assert parse_run_manifest(manifest.to_json()) == manifest  # what it writes, it reads back


@pytest.mark.parametrize(("changes", "says"), [
    ({"format": 2}, "format 2"),
    ({"timestamp": "yesterday"}, "timestamp"),
    ({"stack": "staging"}, "prefix 'prod/neo4j/20250301T020001Z/' is not under staging/neo4j/"),
    ({"databases": [{"name": "neo4j", "status": "complete", "prefix": None}]}, "complete, but no prefix"),
    ({"databases": [{"name": "neo4j", "status": "failed", "prefix": None}]}, "failed, but no error"),
    ({"databases": [{"name": "neo4j", "status": "partly", "prefix": None}]}, "status 'partly'"),
    ({"aliases": [{**ALIASES[1], "password": "secret"}]}, "holds a password"),
    ({"aliases": [{**ALIASES[1], "driver": {"Password": "x"}}]}, "holds a password"),
    ({"aliases": [{**ALIASES[1], "url": None}]}, "remote, but no url"),
])
def test_a_run_manifest_that_cannot_be_trusted_is_refused_saying_why(changes, says):
    with pytest.raises(RunManifestError, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse_run_manifest(json.dumps(manifest_document(**changes)), expect_stack="prod")


def test_run_manifests_sit_under_runs_beside_the_databases():
    assert run_key("prod", "20250301T020000Z") == "prod/runs/20250301T020000Z.json"


# --- a run ------------------------------------------------------------------------------------------------


class ClusterNeo4j:
    """The local server of a 5.26 cluster as far as a run asks it; `broken` cannot be counted."""
    uri = "bolt://x:7687"

    def __init__(self):
        self.asked: list[str | None] = []

    def facts(self, database: str | None) -> ServerFacts:
        self.asked.append(database)
        if database == "broken":
            raise BackupError("cannot query database 'broken' at bolt://x:7687: Database unavailable")
        return ServerFacts(ServerSpec("local", self.uri), version="5.26.30", edition="enterprise",
                           servers=[{"name": f"server-{n}"} for n in (1, 2, 3)],
                           counts=None if database is None else Counts(5, 4), databases=ROWS)

    def query(self, name: str, cypher: str, database: str) -> list[dict]:
        assert (cypher, database) == ("SHOW ALIASES FOR DATABASE YIELD *", "system")
        return ALIASES

    def port_open(self) -> bool:
        return True


def test_a_run_backs_up_every_database_listed_and_writes_the_run_manifest_last(s3, tmp_path):
    flags = tmp_path / "flags"
    flags.mkdir()
    neo4j = ClusterNeo4j()
    lines: list[str] = []
    options = BackupOptions(
        bucket="backups", stack="prod", database=ALL, neo4j=neo4j, region="us-east-1",
        admin=AdminTool([sys.executable, str(FAKE_ADMIN)], extra_env={"FAKE_NEO4J_FLAGS": str(flags)}),
        source="auto", staging=tmp_path / "staging", log=lines.append, now=lambda: NOW,
        via_staging=True)  # S3 is moto in this process: the stand-in cannot write 5.26's backup straight to it
    result = dbms_backup.run_dbms_backup(options, [ALL])

    assert [db["name"] for db in result["databases"]] == ["system", "broken", "neo4j", "sales"]
    assert result["failed"] == ["broken"]  # one database failed; the others after it were still backed up
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="backups")["Contents"]]
    for name in ("system", "neo4j", "sales"):  # sales: created after the stack was configured
        assert f"prod/{name}/20250301T020000Z/manifest.json" in keys
    assert not any(key.startswith("prod/broken/") for key in keys)

    body = s3.get_object(Bucket="backups", Key="prod/runs/20250301T020000Z.json")["Body"].read()
    manifest = parse_run_manifest(body, expect_stack="prod", expect_timestamp="20250301T020000Z")
    by_name = {db.name: db for db in manifest.databases}
    assert by_name["neo4j"].status == "complete" and by_name["neo4j"].prefix == "prod/neo4j/20250301T020000Z/"
    assert by_name["system"].backup_type == "full" and by_name["system"].check == "passed"
    assert by_name["broken"].status == "failed" and "Database unavailable" in by_name["broken"].error
    assert [(c.name, c.constituents) for c in manifest.composites] == [("library", ("library.books", "library.films"))]
    assert [(a.name, a.location, a.database) for a in manifest.aliases] == [
        ("library.books", "local", "sales"), ("library.films", "remote", "films")]
    assert b"password" not in body.lower().replace(PASSWORD_NOTE.lower().encode(), b"")
    assert neo4j.asked[0] is None  # the databases were read from the server before any backup
    assert "FAILED: the backup of broken failed" in dbms_backup.describe_run(result)


def test_freshness_reports_a_database_found_in_the_bucket_but_not_the_runs_prefix(s3, tmp_path):
    for key in ("prod/neo4j/20250301T020000Z/manifest.json", "prod/sales/20250301T020000Z/manifest.json",
                "prod/runs/20250301T020000Z.json"):
        s3.put_object(Bucket="backups", Key=key, Body=b"{}")
    results = freshness.run(s3, "backups", "prod", ["system"], tmp_path, log=lambda _: None, now=lambda: 0)
    assert [r.database for r in results] == ["neo4j", "sales", "system"]
    s3.put_object(Bucket="backups", Key="prod/runs/20250302T020000Z/manifest.json", Body=b"{}")  # a database `runs`
    assert "runs" in freshness.databases_in_bucket(s3, "backups", "prod")


def test_a_system_backup_manifest_records_what_system_holds_and_reads_back():
    from scripts.neo4j_ops.backup.layout import FileEntry, Manifest, ManifestError, parse_manifest
    from scripts.neo4j_ops.facts import SystemCounts

    manifest = Manifest(
        stack="prod", database="system", timestamp="20250301T020000Z", backup_type="dump", method="dump",
        neo4j_version="5.26.30", edition="community", version_line="5", files=(FileEntry("system.dump", 9, "a" * 64),),
        counts=SystemCounts(users=2, databases=2), counts_exact=True, started="x", completed="y", host="h")
    back = parse_manifest(manifest.to_json(), expect_database="system")
    assert back.counts == SystemCounts(users=2, databases=2, roles=None)
    broken = json.loads(manifest.to_json())
    broken["counts"] = {"users": "two", "databases": 2}
    with pytest.raises(ManifestError, match="'users' is str"):
        parse_manifest(json.dumps(broken))
