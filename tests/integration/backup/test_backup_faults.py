"""The faults of issue 12, tried as a reliability engineer would: Neo4j Community 5.26 from Maven Central
and moto's S3 in server mode, on 127.0.0.1. Each test says the fault it pins.

Most run the scripts as processes, as the systemd job does; the ones that need a refusing role or a
nearly full disk run the same code in this process with that one thing replaced.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import namedtuple

import pytest

from scripts.neo4j_ops.backup import commands, make_backup, restore_backup
from scripts.neo4j_ops.shared.errors import UsageError

from .conftest import CREDENTIALS, PASSWORD, common_args, keys, run_script, script_env
from .test_backup_restore import copy_backups, reference_backup

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reference(moto_s3, neo4j, neo4j_commands):
    """A bucket holding one complete backup of a known graph: (bucket, timestamp, counts)."""
    return reference_backup(moto_s3, "fault-reference", neo4j, neo4j_commands, 80)


@pytest.fixture
def in_process(monkeypatch):
    for key, value in {**CREDENTIALS, "NEO4J_PASSWORD": PASSWORD}.items():
        monkeypatch.setenv(key, value)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_restore_keeps_its_own_safety_dump_and_a_retry_deletes_none(moto_s3, bucket, neo4j, neo4j_commands,
                                                                          reference, tmp_path):
    """Fault: re-running a restore deleted the first run's safety dump and re-took it from the already
    restored database. Safety dumps are per run, and the tool never deletes them."""
    source, stamp, counts = reference
    copy_backups(moto_s3, source, bucket)
    neo4j.query("CREATE (:Canary {at: 'before the first restore'})")
    args = [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--work-dir", str(tmp_path), "--json",
            "--latest", "--yes"]
    first = run_script("restore", args)
    assert first.returncode == 0, first.stderr
    first_dump = tmp_path.joinpath(json.loads(first.stdout)["safety_dump"])
    saved = {p.name: digest(p) for p in first_dump.iterdir()}
    assert saved and neo4j.counts() == counts

    time.sleep(1.1)  # a new second: the second run gets its own directory either way
    second = run_script("restore", args)
    assert second.returncode == 0, second.stderr
    second_dump = tmp_path.joinpath(json.loads(second.stdout)["safety_dump"])
    assert second_dump != first_dump
    assert {p.name: digest(p) for p in first_dump.iterdir()} == saved  # untouched by the retry
    assert any(second_dump.iterdir())


def test_free_space_for_download_and_safety_dump_is_checked_before_neo4j_is_stopped(
        moto_s3, bucket, neo4j, neo4j_commands, reference, tmp_path, in_process, monkeypatch):
    """Fault: the check counted the download only; production was stopped, the safety dump hit a full
    disk, and the restore gave up after an outage for nothing."""
    source, stamp, _ = reference
    copy_backups(moto_s3, source, bucket)
    dump_size = moto_s3.client().head_object(Bucket=bucket, Key=f"test/neo4j/{stamp}/neo4j.dump")["ContentLength"]
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(restore_backup.shutil, "disk_usage",
                        lambda path: usage(10 ** 12, 0, int(dump_size * 1.05) + 1024))  # room for the download only
    status = neo4j.status()
    args = commands.restore_parser().parse_args(
        [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--work-dir", str(tmp_path), "--latest", "--yes"])
    with pytest.raises(UsageError) as refused:
        commands._restore(args, lambda _: None)
    message = str(refused.value)
    assert str(tmp_path) in message and "safety dump" in message and "Nothing was stopped" in message
    assert neo4j.status() == status  # neither stopped nor started
    assert not list(tmp_path.rglob("*.dump")) and not list(tmp_path.rglob("*.part"))


def test_a_role_that_cannot_write_to_the_bucket_is_refused_before_neo4j_is_stopped(
        moto_s3, bucket, neo4j, neo4j_commands, in_process, monkeypatch):
    """Fault: a role that could read the bucket but not write stopped Neo4j, dumped, then failed."""
    from tests.support.backup_standins import Refusing

    real_client = make_backup.client
    monkeypatch.setattr(make_backup, "client", lambda *a, **k: Refusing(
        real_client(*a, **k), lambda name, kw: name in ("create_multipart_upload", "put_object")))
    status = neo4j.status()
    args = commands.backup_parser().parse_args([*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--offline-ok"])
    with pytest.raises(UsageError, match="may read bucket .* but not write to it"):
        commands._backup(args, lambda _: None)
    assert neo4j.status() == status
    assert keys(moto_s3, bucket) == []


def test_a_backup_with_neo4j_not_running_fails_at_once_in_one_line(moto_s3, bucket, neo4j, neo4j_commands):
    """Fault: after a backup killed mid-upload (Neo4j left stopped), the next run waited ~60 s of driver
    retries before saying that Neo4j was not running."""
    assert neo4j.send("stop") == "ok"
    try:
        t0 = time.monotonic()
        result = run_script("backup", [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--offline-ok"])
        seconds = time.monotonic() - t0
    finally:
        neo4j.ensure_running()
    assert result.returncode == 1
    assert seconds < 15, f"took {seconds:.0f}s"
    assert "Neo4j is not running" in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if "not running" in line]) == 1
    assert keys(moto_s3, bucket) == []


def test_list_shows_a_backup_whose_object_changed_size_as_incomplete(moto_s3, bucket, neo4j, neo4j_commands,
                                                                    reference):
    """Fault: --list showed a backup whose object no longer matched its manifest's size as complete."""
    source, stamp, _ = reference
    copy_backups(moto_s3, source, bucket)
    key = f"test/neo4j/{stamp}/neo4j.dump"
    s3 = moto_s3.client()
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=data[:-10])
    result = run_script("restore", ["--bucket", bucket, "--stack", "test", "--endpoint-url", moto_s3.endpoint,
                                    "--region", "us-east-1", "--list", "--json"])
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)["backups"]
    assert row["status"] == "incomplete"
    assert f"neo4j.dump holds {len(data) - 10} bytes, the manifest says {len(data)}" in row["problem"]


# --- issue 20: any doubt about the target refuses before anything is stopped -----------------------------


def restore_args(moto_s3, bucket, neo4j, neo4j_commands, tmp_path) -> list[str]:
    return [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--work-dir", str(tmp_path), "--latest", "--yes"]


def test_a_refused_login_is_refused_before_neo4j_is_stopped(moto_s3, bucket, neo4j, neo4j_commands, reference,
                                                            tmp_path):
    """Fault: a restore given a wrong password logged 'assuming the backup's Neo4j', stopped Neo4j, loaded the
    backup over the live database, then said that Neo4j 'did not come back' while it ran: the data written
    before the restore was gone."""
    source, _, _ = reference
    copy_backups(moto_s3, source, bucket)
    neo4j.query("CREATE (:Canary {at: 'before a restore with a wrong password'})")
    before, status = neo4j.counts(), neo4j.status()
    result = run_script("restore", [*restore_args(moto_s3, bucket, neo4j, neo4j_commands, tmp_path), "--quiet"],
                        env=script_env(NEO4J_PASSWORD="wrong-password"))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "refused user 'neo4j'" in line and "nothing was stopped" in line and "--password-env" in line
    assert neo4j.status() == status and neo4j.counts() == before
    assert not any(tmp_path.iterdir())


def test_a_store_whose_size_cannot_be_worked_out_is_refused_before_neo4j_is_stopped(
        moto_s3, bucket, neo4j, neo4j_commands, reference, tmp_path):
    """Fault: a restore that could not work out the store size counted it as 0, stopped Neo4j and failed on
    a full disk (an outage for nothing). Here nothing says where the store is (no --neo4j-home)."""
    source, _, _ = reference
    copy_backups(moto_s3, source, bucket)
    args = restore_args(moto_s3, bucket, neo4j, neo4j_commands, tmp_path)
    at = args.index("--neo4j-home")
    del args[at:at + 2]
    status = neo4j.status()
    result = run_script("restore", [*args, "--quiet"])
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "cannot work out the size of database 'neo4j'" in line and "--no-safety-dump" in line
    assert neo4j.status() == status
    assert not any(tmp_path.iterdir())


def test_nothing_but_the_safety_dump_is_left_in_the_work_directory(moto_s3, bucket, neo4j, neo4j_commands,
                                                                   reference, tmp_path):
    """Fault: failed and successful runs left work directories behind (the download's directory, a 4.4
    backup's unpacked folder)."""
    source, stamp, counts = reference
    copy_backups(moto_s3, source, bucket)
    args = restore_args(moto_s3, bucket, neo4j, neo4j_commands, tmp_path)
    restored = run_script("restore", [*args, "--json"])
    assert restored.returncode == 0, restored.stderr
    safety = json.loads(restored.stdout)["safety_dump"]
    assert [p.name for p in tmp_path.iterdir()] == [safety.rsplit("/", 1)[-1]] and neo4j.counts() == counts

    failing = tmp_path / "failing"
    failing.mkdir()
    s3 = moto_s3.client()
    key = f"test/neo4j/{stamp}/neo4j.dump"
    s3.put_object(Bucket=bucket, Key=key, Body=s3.get_object(Bucket=bucket, Key=key)["Body"].read()[:-1] + b"?")
    failed = run_script("restore", [*restore_args(moto_s3, bucket, neo4j, neo4j_commands, failing), "--json"])
    assert failed.returncode == 1 and "corrupted" in failed.stderr
    assert not any(failing.iterdir())
