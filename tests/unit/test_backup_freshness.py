"""The freshness check (scripts/neo4j_ops/backup/freshness.py) against moto's S3 in-process: per database, the
newest restorable backup and the last passed drill as the bucket holds them (not as a job claims), written
atomically as node exporter textfile metrics."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from scripts.neo4j_ops.backup import freshness
from scripts.neo4j_ops.backup.freshness import (
    BACKUP_METRIC,
    DRILL_METRIC,
    FIRST_BACKUP_METRIC,
    METRICS_FILE,
    RUN_METRIC,
    Freshness,
    drill_key,
    drill_record,
    put_drill_record,
    render,
    write_atomically,
)
from scripts.neo4j_ops.backup.layout import Counts, FileEntry, Manifest, object_key
from scripts.neo4j_ops.backup.s3 import put_manifest
from tests.conftest import ROOT

BUCKET = "fresh"


@pytest.fixture
def s3(mocked_aws):
    import boto3

    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def backup(s3, stamp: str, completed: str, database: str = "neo4j", *, manifest: bool = True,
           data: bytes = b"dump-bytes") -> None:
    import hashlib

    s3.put_object(Bucket=BUCKET, Key=object_key("prod", database, stamp, "neo4j.dump"), Body=data)
    if manifest:
        put_manifest(s3, BUCKET, Manifest(
            stack="prod", database=database, timestamp=stamp, backup_type="dump", method="dump",
            neo4j_version="5.26.30", edition="community", version_line="5",
            files=(FileEntry("neo4j.dump", len(data), hashlib.sha256(data).hexdigest()),), counts=Counts(1, 0),
            counts_exact=True, started=completed, completed=completed, host="core-1"))


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_the_newest_restorable_backup_counts_not_a_newer_unfinished_one(s3):
    backup(s3, "20260101T020000Z", "2026-01-01T02:05:00Z")
    backup(s3, "20260102T020000Z", "2026-01-02T02:05:00Z")
    backup(s3, "20260103T020000Z", "2026-01-03T02:05:00Z", manifest=False)  # upload never finished
    (result,) = freshness.measure(s3, BUCKET, "prod", ["neo4j"])
    assert result == Freshness("neo4j", epoch("2026-01-02T02:05:00Z"), epoch("2026-01-01T02:05:00Z"), 0.0)


def test_a_damaged_backup_is_not_fresh(s3):
    backup(s3, "20260101T020000Z", "2026-01-01T02:05:00Z")
    backup(s3, "20260102T020000Z", "2026-01-02T02:05:00Z")
    # The newest one's dump lost bytes: the manifest no longer matches the bucket.
    s3.put_object(Bucket=BUCKET, Key=object_key("prod", "neo4j", "20260102T020000Z", "neo4j.dump"), Body=b"x")
    (result,) = freshness.measure(s3, BUCKET, "prod", ["neo4j"])
    assert result.last_backup == epoch("2026-01-01T02:05:00Z")


def test_an_expected_database_without_backups_reads_zero_and_found_ones_are_reported(s3):
    backup(s3, "20260101T020000Z", "2026-01-01T02:05:00Z", database="system")
    results = {r.database: r for r in freshness.measure(s3, BUCKET, "prod", ["neo4j"])}
    assert set(results) == {"neo4j", "system"}
    assert results["neo4j"] == Freshness("neo4j", 0.0, 0.0, 0.0)
    assert results["system"].last_backup == epoch("2026-01-01T02:05:00Z")


def test_the_last_passed_drill_comes_from_the_records_the_drill_leaves(s3):
    backup(s3, "20260101T020000Z", "2026-01-01T02:05:00Z")
    for stamp, finished in (("20260104T060000Z", datetime(2026, 1, 4, 6, 9, tzinfo=UTC)),
                            ("20260111T060000Z", datetime(2026, 1, 11, 6, 7, tzinfo=UTC))):
        put_drill_record(s3, BUCKET, "prod", "neo4j", stamp, drill_record(
            stack="prod", database="neo4j", verified="20260101T020000Z", finished=finished, seconds=42.0,
            counts={"nodes": 1, "relationships": 0}, host="core-1"))
    # Neither a record that says something else nor a stray object counts.
    s3.put_object(Bucket=BUCKET, Key=drill_key("prod", "neo4j", "20260118T060000Z"),
                  Body=json.dumps({"result": "failed"}).encode())
    s3.put_object(Bucket=BUCKET, Key="prod/neo4j/drills/notes.txt", Body=b"hello")
    (result,) = freshness.measure(s3, BUCKET, "prod", ["neo4j"])
    assert result.last_drill == datetime(2026, 1, 11, 6, 7, tzinfo=UTC).timestamp()
    assert result.last_backup == epoch("2026-01-01T02:05:00Z")  # the drill records are no backup


def test_the_textfile_is_prometheus_text_with_one_sample_per_database():
    text = render([Freshness("neo4j", 1767232800, 1767000000, 1767600000),
                   Freshness('we"ird', 0, 0, 0)], now=1767700000)
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [
        f'{BACKUP_METRIC}{{database="neo4j"}} 1767232800', f'{BACKUP_METRIC}{{database="we\\"ird"}} 0',
        f'{FIRST_BACKUP_METRIC}{{database="neo4j"}} 1767000000', f'{FIRST_BACKUP_METRIC}{{database="we\\"ird"}} 0',
        f'{DRILL_METRIC}{{database="neo4j"}} 1767600000', f'{DRILL_METRIC}{{database="we\\"ird"}} 0',
        f"{RUN_METRIC} 1767700000"]
    for metric in (BACKUP_METRIC, FIRST_BACKUP_METRIC, DRILL_METRIC, RUN_METRIC):
        assert f"# TYPE {metric} gauge" in text
    assert text.endswith("\n")


def test_the_textfile_is_replaced_atomically_and_no_temporary_file_stays(tmp_path, monkeypatch):
    write_atomically(tmp_path, METRICS_FILE, "old 1\n")
    real_replace = os.replace

    def crash(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomically(tmp_path, METRICS_FILE, "new 2\n")
    monkeypatch.setattr(os, "replace", real_replace)
    assert (tmp_path / METRICS_FILE).read_text() == "old 1\n"  # never half a file
    assert [p.name for p in tmp_path.iterdir()] == [METRICS_FILE]
    write_atomically(tmp_path, METRICS_FILE, "new 2\n")
    assert (tmp_path / METRICS_FILE).read_text() == "new 2\n"
    assert oct((tmp_path / METRICS_FILE).stat().st_mode & 0o777) == "0o644"  # node exporter reads it


def test_run_writes_the_metrics_from_the_bucket(s3, tmp_path):
    backup(s3, "20260101T020000Z", "2026-01-01T02:05:00Z")
    lines = []
    freshness.run(s3, BUCKET, "prod", ["neo4j"], tmp_path, log=lines.append, now=lambda: 1767700000.0)
    text = (tmp_path / METRICS_FILE).read_text()
    assert re.search(rf'^{BACKUP_METRIC}\{{database="neo4j"\}} {epoch("2026-01-01T02:05:00Z"):.0f}$', text, re.M)
    assert re.search(rf'^{DRILL_METRIC}\{{database="neo4j"\}} 0$', text, re.M)
    assert any("newest restorable backup 2026-01-01T02:05:00Z, last passed drill none" in line for line in lines)


def test_a_drill_record_is_json_that_names_what_was_verified():
    record = json.loads(drill_record(stack="prod", database="neo4j", verified="20260101T020000Z",
                                     finished=datetime(2026, 1, 4, 6, 9, tzinfo=UTC), seconds=12.3456,
                                     counts={"nodes": 3, "relationships": 2}, host="h"))
    assert record == {"stack": "prod", "database": "neo4j", "result": "passed", "verified_backup": "20260101T020000Z",
                      "finished": "2026-01-04T06:09:00Z", "seconds": 12.346,
                      "counts": {"nodes": 3, "relationships": 2}, "host": "h"}
    assert drill_key("prod", "neo4j", "20260104T060900Z") == "prod/neo4j/drills/20260104T060900Z.json"


def test_the_command_has_help_and_one_line_errors():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    shown = subprocess.run([sys.executable, "-m", "scripts.neo4j_ops.backup.freshness", "--help"], cwd=ROOT,
                           capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and "example:" in shown.stdout and "--textfile-dir" in shown.stdout
    refused = subprocess.run([sys.executable, "-m", "scripts.neo4j_ops.backup.freshness", "--stack", "prod"],
                             cwd=ROOT, capture_output=True, text=True, env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "neo4j-backup-freshness: no bucket: pass --bucket or set $BACKUP_BUCKET"


def test_the_freshness_module_ships_in_the_tooling_archive():
    import io
    import tarfile

    from components.tooling import tooling_archive

    names = tarfile.open(fileobj=io.BytesIO(tooling_archive())).getnames()
    assert "neo4j_ops/backup/freshness.py" in names and "__init__.py" in names  # `python3 -m scripts.…` works

