"""Issue 20's safety faults of backup.py/restore.py that need no Neo4j: what a safety dump is estimated to need,
doubts about the work directory, AWS credentials, and uploads earlier runs left unfinished (moto in process).
Each test names the fault it pins; the faults that need a real server are in
tests/integration/backup/test_backup_faults.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.neo4j_ops.backup import restore_backup, staging
from scripts.neo4j_ops.backup.admin import AdminTool
from scripts.neo4j_ops.shared.errors import UsageError

MiB = 1024 * 1024


def fake_store(home: Path, database: str = "neo4j", *, store: int, logged: int, preallocated: int) -> None:
    """A NEO4J_HOME whose store files hold `store` bytes and whose one transaction log holds `logged` bytes
    followed by `preallocated` zeros (as Neo4j pre-allocates its logs)."""
    (home / "conf").mkdir(parents=True)
    (home / "conf" / "neo4j.conf").write_text("server.directories.data=data\n")
    stores = home / "data" / "databases" / database
    logs = home / "data" / "transactions" / database
    stores.mkdir(parents=True)
    logs.mkdir(parents=True)
    (stores / "neostore.nodestore.db").write_bytes(b"\x01" * store)
    with open(logs / "neostore.transaction.db.0", "wb") as log:
        log.write(b"\x02" * logged)
        log.truncate(logged + preallocated)  # zeros, sparse: cheap on the test's disk


def test_the_safety_dump_estimate_counts_what_the_logs_hold_not_their_preallocation(tmp_path):
    """Fault: the estimate counted pre-allocated transaction logs (it asked for 325 MiB for a 37 MiB dump,
    refusing restores that fit)."""
    fake_store(tmp_path, store=3 * MiB, logged=100_000, preallocated=256 * MiB)
    admin = AdminTool(["neo4j-admin"], tmp_path)
    assert staging.store_size(admin, "neo4j") == 3 * MiB + 100_000


def test_written_bytes_keeps_zeros_inside_the_data_and_drops_only_the_tail(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"\x07" + b"\0" * (3 * MiB) + b"\x07" + b"\0" * (2 * MiB + 5))
    assert staging.written_bytes(path) == 3 * MiB + 2
    path.write_bytes(b"\0" * 10)
    assert staging.written_bytes(path) == 0


def restore_options(tmp_path: Path, home: Path | None) -> restore_backup.RestoreOptions:
    return restore_backup.RestoreOptions(bucket="b", stack="test", database="neo4j", neo4j=None,
                                         admin=AdminTool(["neo4j-admin"], home), work_dir=tmp_path)


@pytest.mark.parametrize("where", ["no home", "no store"])
def test_a_store_size_that_cannot_be_worked_out_is_refused_saying_what_to_pass(tmp_path, where):
    """Fault: a restore that could not work out the store size counted it as 0, stopped Neo4j and failed on
    a full disk (an outage for nothing)."""
    home = None
    if where == "no store":
        home = tmp_path / "home"
        (home / "conf").mkdir(parents=True)
    with pytest.raises(UsageError) as refused:
        restore_backup._current_store_size(restore_options(tmp_path, home))
    message = str(refused.value)
    assert "nothing was stopped" in message and "--neo4j-home" in message and "--no-safety-dump" in message
    assert "\n" not in message


def test_free_space_that_cannot_be_read_is_refused(tmp_path, monkeypatch):
    """Fault (issue 20, 'space unknown'): a work directory whose free space could not be read raised an
    unexpected error instead of a refusal saying what to pass."""
    def unreadable(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(restore_backup.shutil, "disk_usage", unreadable)
    with pytest.raises(UsageError, match="cannot tell the free space of .*nothing was stopped.*--work-dir"):
        restore_backup.check_room(tmp_path, [("download", 1)])


# --- S3 --------------------------------------------------------------------------------------------------


def test_missing_aws_credentials_are_their_own_usage_error(tmp_path, monkeypatch):
    """Fault: missing AWS credentials exited 1 ("cannot reach S3") as if S3 were down."""
    from scripts.neo4j_ops.backup.s3 import check_bucket, client

    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never the cloud's metadata address from a test
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    # boto3.client uses the process's default session, which keeps credentials an earlier test of this process
    # gave it (the commands run once per process: theirs starts empty, as this one must).
    import boto3
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    # An endpoint nothing listens on: the SDK refuses to sign before it sends anything.
    with pytest.raises(UsageError, match="no AWS credentials found: nothing was stopped"):
        check_bucket(client("http://127.0.0.1:9", "us-east-1"), "backups")


def test_missing_aws_credentials_exit_2_from_the_command(tmp_path):
    from tests.support.ops_scripts import script

    result = script("restore", "--stack", "prod", "--bucket", "backups", "--list", "--endpoint-url",
                    "http://127.0.0.1:9", "--region", "us-east-1",
                    env={"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                         "AWS_CONFIG_FILE": str(tmp_path / "none"), "HOME": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert "no AWS credentials found" in result.stderr and "Traceback" not in result.stderr


def unfinished_upload(s3, key: str) -> str:
    upload = s3.create_multipart_upload(Bucket="backups", Key=key)["UploadId"]
    s3.upload_part(Bucket="backups", Key=key, UploadId=upload, PartNumber=1, Body=b"x" * (5 * MiB))
    return upload


def test_the_next_run_aborts_the_uploads_an_earlier_run_left_unfinished(mocked_aws):
    """Fault: an upload killed mid-way stayed an incomplete multipart upload that the next run did not abort."""
    from datetime import UTC, datetime, timedelta

    import boto3

    from scripts.neo4j_ops.backup import s3 as s3_module

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="backups")
    unfinished_upload(s3, "prod/neo4j/20260101T020000Z/neo4j.dump")  # killed by an earlier run
    unfinished_upload(s3, "prod/other/20260101T020000Z/other.dump")  # another database's: not this run's
    notes: list[str] = []
    later = datetime.now(UTC) + timedelta(hours=1)
    aborted = s3_module.abort_stale_uploads(s3, "backups", "prod/neo4j/", notes.append, now=later)
    assert aborted == ["prod/neo4j/20260101T020000Z/neo4j.dump"]
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket="backups").get("Uploads", [])] == [
        "prod/other/20260101T020000Z/other.dump"]
    assert any("an earlier run left" in note for note in notes)


def test_an_upload_still_adding_parts_is_not_aborted_and_the_write_check_cleans_up(mocked_aws):
    import boto3

    from scripts.neo4j_ops.backup import s3 as s3_module

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="backups")
    unfinished_upload(s3, "prod/neo4j/20260101T020000Z/neo4j.dump")  # its last part: just now
    assert s3_module.check_writable(s3, "backups", "prod/neo4j/20260101T030000Z/neo4j.dump") == []
    assert len(s3.list_multipart_uploads(Bucket="backups").get("Uploads", [])) == 1  # a live run's upload stays


def test_list_says_it_checked_sizes_only(mocked_aws):
    """Fault: --list did not say whether it verified checksums or sizes only."""
    import boto3

    from scripts.neo4j_ops.backup import commands

    boto3.client("s3").create_bucket(Bucket="backups")
    args = commands.restore_parser().parse_args(["--bucket", "backups", "--stack", "prod", "--list"])
    result = commands._restore(args, lambda _: None)
    assert result["checked"] == "sizes"
    assert "not its sha256" in commands.describe_restore(result).splitlines()[-1]
