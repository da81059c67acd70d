"""The failover drill's record and metric (scripts/neo4j_ops/backup/failover_drills.py) against moto's S3 in-process:
the drill's record in the bucket under <stack>/failover-drills/, read back by the backup server's freshness check
(backup/freshness.py) into the same textfile as the backup metrics, where Neo4jFailoverDrillTooOld reads it; the
folder is not taken for a database."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scripts.neo4j_ops.backup import failover_drills as fd
from scripts.neo4j_ops.backup import freshness
from scripts.neo4j_ops.shared.errors import OperationError

BUCKET = "drills"
FIGURES = {"stop_seconds": 4.2, "new_leader_seconds": 6.5, "write_outage_seconds": 3.25, "writes": 120,
           "acknowledged": 120, "failed_attempts": 9, "retried_writes": 2, "lost_writes": 0, "recovery_seconds": 41.0}


@pytest.fixture
def s3(mocked_aws):
    import boto3

    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def put(s3, day: int, passed: bool, figures=FIGURES) -> str:
    document = fd.record(stack="prod", server="core-1", passed=passed, finished=datetime(2026, 11, day, 3, tzinfo=UTC),
                         figures=figures, exceeded=[] if passed else ["writes failed for 40.0 s"])
    return fd.put_record(s3, BUCKET, document)


def sample(text: str, metric: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(metric + "{"))
    return float(line.rsplit(" ", 1)[1])


def test_the_newest_record_and_the_newest_passed_one_become_the_metrics(s3):
    assert put(s3, 1, True) == "prod/failover-drills/20261101T030000Z.json"
    put(s3, 20, False, {**FIGURES, "write_outage_seconds": 40.0, "recovery_seconds": None})
    newest, passed = fd.newest_records(s3, BUCKET, "prod")
    assert newest["result"] == "failed" and passed["result"] == "passed"
    text = fd.metrics("prod", newest, passed)
    assert sample(text, fd.LAST_SUCCESS) == datetime(2026, 11, 1, 3, tzinfo=UTC).timestamp()
    assert sample(text, fd.LAST_RUN) == datetime(2026, 11, 20, 3, tzinfo=UTC).timestamp()
    assert sample(text, "neo4j_failover_drill_write_outage_seconds") == 40.0  # the newest run's figures
    assert sample(text, "neo4j_failover_drill_recovery_seconds") == -1  # not back within the limit
    assert sample(text, "neo4j_failover_drill_failed_writes") == 9
    assert '{stack="prod"}' in text and "# TYPE neo4j_failover_drill_last_success_timestamp_seconds gauge" in text


def test_never_drilled_publishes_zero_times_and_no_figures(s3):
    text = fd.metrics("prod", *fd.newest_records(s3, BUCKET, "prod"))
    assert sample(text, fd.LAST_SUCCESS) == 0 and sample(text, fd.LAST_RUN) == 0
    assert "write_outage" not in text


def test_freshness_publishes_the_drill_and_does_not_take_its_folder_for_a_database(s3, tmp_path):
    put(s3, 2, True)
    results = freshness.run(s3, BUCKET, "prod", ["neo4j"], tmp_path, log=lambda _m: None,
                            now=lambda: 1_800_000_000.0)
    assert [r.database for r in results] == ["neo4j"]  # failover-drills/ is no database
    text = (tmp_path / freshness.METRICS_FILE).read_text()
    assert sample(text, fd.LAST_SUCCESS) == datetime(2026, 11, 2, 3, tzinfo=UTC).timestamp()
    assert 'database="failover-drills"' not in text


def test_a_damaged_record_is_skipped_and_a_refused_write_is_one_line(s3):
    put(s3, 1, True)
    s3.put_object(Bucket=BUCKET, Key="prod/failover-drills/20261130T000000Z.json", Body=b"{not json")
    newest, passed = fd.newest_records(s3, BUCKET, "prod")
    assert newest is passed and newest["finished"] == "2026-11-01T03:00:00Z"
    document = fd.record(stack="prod", server="core-1", passed=True, finished=datetime(2026, 11, 1, tzinfo=UTC),
                         figures=FIGURES, exceeded=[])
    with pytest.raises(OperationError, match=r"^writing the drill's record s3://absent/prod/failover-drills/.*"
                                             r"Neo4jFailoverDrillTooOld will not see this drill$"):
        fd.put_record(s3, "absent", document)
