"""Backup and restore for real: Neo4j Community 5.26 from Maven Central and moto's S3, on 127.0.0.1.

One server for the module; each test gets its own bucket. The scripts run as processes, exactly as
the systemd job and an operator run them.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from .conftest import SCRIPTS, common_args, keys, run_script, script_env
from .support import wrapped_admin

pytestmark = pytest.mark.integration

PEOPLE = 300


def write_graph(neo4j, people: int = PEOPLE) -> tuple[int, int]:
    neo4j.query("MATCH (n) DETACH DELETE n")
    neo4j.query("UNWIND range(1, $n) AS i CREATE (:Person {id: i, name: 'person ' + i})", n=people)
    neo4j.query("MATCH (a:Person), (b:Person) WHERE b.id = a.id + 1 CREATE (a)-[:KNOWS {since: a.id}]->(b)")
    return neo4j.counts()


def backup(moto_s3, bucket, neo4j, neo4j_commands, *extra: str):
    # --no-check: the consistency check (about 15 s a run) is proven in test_backup_check.py.
    result = run_script("backup", [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--offline-ok",
                                   "--json", "--no-check", *extra])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def restore(moto_s3, bucket, neo4j, neo4j_commands, tmp_path, *extra: str):
    return run_script("restore", [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--work-dir", str(tmp_path),
                                  "--json", *extra])


def test_backup_destroy_restore_gives_back_the_same_counts(moto_s3, bucket, neo4j, neo4j_commands, tmp_path):
    written = write_graph(neo4j)
    assert written == (PEOPLE, PEOPLE - 1)

    made = backup(moto_s3, bucket, neo4j, neo4j_commands)
    assert made["type"] == "dump" and made["counts_exact"]
    assert (made["counts"]["nodes"], made["counts"]["relationships"]) == written
    stamp = made["backup"]
    assert keys(moto_s3, bucket) == [f"test/neo4j/{stamp}/manifest.json", f"test/neo4j/{stamp}/neo4j.dump"]
    manifest = json.loads(moto_s3.client().get_object(Bucket=bucket, Key=f"test/neo4j/{stamp}/manifest.json")
                          ["Body"].read())
    assert manifest["neo4j_version"] == "5.26.30" and manifest["database"] == "neo4j"
    assert manifest["size"] == made["size"] and manifest["sha256"] == made["sha256"]
    assert manifest["counts"] == {"nodes": PEOPLE, "relationships": PEOPLE - 1}

    neo4j.query("MATCH (n) DETACH DELETE n")
    assert neo4j.counts() == (0, 0)

    result = restore(moto_s3, bucket, neo4j, neo4j_commands, tmp_path, "--latest", "--yes")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["restored"] == stamp
    assert neo4j.counts() == written
    assert neo4j.query("MATCH (p:Person {id: 7})-[:KNOWS]->(q) RETURN q.name AS name")[0]["name"] == "person 8"


# --- one reference backup for the tests below ----------------------------------------------------------


def reference_backup(moto_s3, name: str, neo4j, neo4j_commands, people: int) -> tuple[str, str, tuple[int, int]]:
    """A new bucket `name` holding one complete backup of a graph of `people`: (bucket, timestamp, counts)."""
    moto_s3.client().create_bucket(Bucket=name)
    counts = write_graph(neo4j, people)
    made = backup(moto_s3, name, neo4j, neo4j_commands)
    return name, made["backup"], counts


@pytest.fixture(scope="module")
def reference(moto_s3, neo4j, neo4j_commands):
    """A bucket holding one complete backup of a known graph: (bucket, timestamp, counts)."""
    return reference_backup(moto_s3, "reference-backups", neo4j, neo4j_commands, 120)


def copy_backups(moto_s3, source: str, target: str) -> None:
    s3 = moto_s3.client()
    for key in keys(moto_s3, source):
        s3.copy_object(Bucket=target, Key=key, CopySource={"Bucket": source, "Key": key})


def test_corrupted_object_is_refused_before_the_server_is_touched(moto_s3, bucket, neo4j, neo4j_commands,
                                                                   reference, tmp_path):
    source, stamp, _ = reference
    copy_backups(moto_s3, source, bucket)
    s3 = moto_s3.client()
    key = f"test/neo4j/{stamp}/neo4j.dump"
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    neo4j.query("CREATE (:Canary {at: 'before restore'})")
    before, status = neo4j.counts(), neo4j.status()

    result = restore(moto_s3, bucket, neo4j, neo4j_commands, tmp_path, "--latest", "--yes")

    assert result.returncode == 1
    assert "corrupted" in result.stderr and "Nothing was changed on the server" in result.stderr
    assert "Traceback" not in result.stderr
    assert neo4j.status() == status  # neither stopped nor started
    assert neo4j.counts() == before
    assert not list(tmp_path.rglob("*.dump"))  # the bad download was deleted


def test_restore_drill_restores_into_a_scratch_server_and_leaves_production_alone(
        moto_s3, neo4j, neo4j_commands, reference, tmp_path):
    source, stamp, counts = reference
    status = neo4j.status()
    result = restore(moto_s3, source, neo4j, neo4j_commands, tmp_path, "--latest", "--verify-only",
                     "--scratch-command", str(neo4j_commands["console"]))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verified"] == stamp
    assert (report["counts"]["nodes"], report["counts"]["relationships"]) == counts
    assert neo4j.status() == status
    assert not any(tmp_path.iterdir())  # the scratch server's files are gone


def test_at_picks_a_backup_by_time_and_refuses_an_incomplete_one(moto_s3, bucket, neo4j, neo4j_commands,
                                                                 reference, tmp_path):
    source, stamp, _ = reference
    copy_backups(moto_s3, source, bucket)
    # A later backup whose upload finished but whose manifest was never written (the process died).
    moto_s3.client().put_object(Bucket=bucket, Key="test/neo4j/20991231T020000Z/neo4j.dump", Body=b"DZV1partial")
    args = common_args(moto_s3, bucket, neo4j, neo4j_commands)

    listed = run_script("restore", [*args, "--list", "--json"])
    assert listed.returncode == 0, listed.stderr
    rows = {row["timestamp"]: row for row in json.loads(listed.stdout)["backups"]}
    assert rows[stamp]["status"] == "complete"
    assert rows["20991231T020000Z"]["status"] == "incomplete"

    refused = run_script("restore", [*args, "--at", "20991231T020000Z", "--verify-only", "--work-dir", str(tmp_path)])
    assert refused.returncode == 1
    assert "20991231T020000Z is incomplete" in refused.stderr and f"before it is {stamp}" in refused.stderr

    status = neo4j.status()
    chosen = run_script("restore", [*args, "--at", "2099-12-31T01:00:00Z", "--verify-only", "--json",
                                    "--work-dir", str(tmp_path), "--scratch-command", str(neo4j_commands["console"])])
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["verified"] == stamp
    assert neo4j.status() == status


# --- interrupted uploads ----------------------------------------------------------------------------------

SLOW_DUMP = '''#!{python}
"""neo4j-admin stand-in: `database dump --to-stdout` writes 12 MiB, then hangs; anything else: the real one."""
import os, sys, time
if "dump" in sys.argv and "--to-stdout" in sys.argv:
    for _ in range(12):
        sys.stdout.buffer.write(os.urandom(1024 * 1024))
    sys.stdout.buffer.flush()
    time.sleep(300)
    sys.exit(0)
os.execv({admin!r}, [{admin!r}, *sys.argv[1:]])
'''


@pytest.fixture
def slow_admin(tmp_path, neo4j_commands):
    return wrapped_admin(tmp_path / "slow-neo4j-admin", SLOW_DUMP, neo4j_commands)


def start_backup(moto_s3, bucket, neo4j, commands) -> subprocess.Popen:
    args = [*common_args(moto_s3, bucket, neo4j, commands), "--offline-ok", "--part-size", "5MiB", "--no-check"]
    return subprocess.Popen([sys.executable, str(SCRIPTS / "backup.py"), *args], env=script_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_uploaded_part(moto_s3, bucket, process, timeout=300) -> str:
    s3 = moto_s3.client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            try:  # the write probe's upload (started and aborted at once) may be gone already
                parts = s3.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts")
            except ClientError:
                continue
            if parts:
                return upload["Key"]
        time.sleep(0.2)
    raise AssertionError("no part was uploaded in time")


def test_sigterm_during_upload_aborts_it_writes_no_manifest_and_starts_neo4j_again(moto_s3, bucket, neo4j,
                                                                                    slow_admin):
    before = neo4j.counts()
    process = start_backup(moto_s3, bucket, neo4j, slow_admin)
    wait_for_uploaded_part(moto_s3, bucket, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)

    assert process.returncode == 130  # interrupted, as for every command
    assert "stopped by SIGTERM" in stderr and "aborted the unfinished upload" in stderr
    assert "Traceback" not in stderr
    assert keys(moto_s3, bucket) == []
    assert moto_s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert neo4j.status()["running"] and neo4j.counts() == before


def test_killed_backup_leaves_no_manifest_and_restore_skips_it(moto_s3, bucket, neo4j, neo4j_commands, slow_admin,
                                                                reference, tmp_path):
    source, stamp, counts = reference
    copy_backups(moto_s3, source, bucket)
    process = start_backup(moto_s3, bucket, neo4j, slow_admin)
    key = wait_for_uploaded_part(moto_s3, bucket, process)
    process.kill()  # no clean-up at all: as when the machine dies
    process.communicate(timeout=60)
    neo4j.ensure_running()  # in production the service's ExecStopPost starts Neo4j again

    interrupted = key.split("/")[2]
    assert interrupted > stamp
    assert not [k for k in keys(moto_s3, bucket) if k.startswith(f"test/neo4j/{interrupted}/")]
    args = [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--work-dir", str(tmp_path)]
    chosen = run_script("restore", [*args, "--latest", "--verify-only", "--json",
                                    "--scratch-command", str(neo4j_commands["console"])])
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["verified"] == stamp


# --- refusals ---------------------------------------------------------------------------------------------


def test_community_dump_without_offline_ok_is_refused_and_neo4j_keeps_running(moto_s3, bucket, neo4j,
                                                                              neo4j_commands):
    status = neo4j.status()
    result = run_script("backup", common_args(moto_s3, bucket, neo4j, neo4j_commands))
    assert result.returncode == 2
    assert "--offline-ok" in result.stderr and "Traceback" not in result.stderr
    assert neo4j.status() == status
    assert keys(moto_s3, bucket) == []


@pytest.mark.parametrize(("change", "message"), [
    ({"bucket": "no-such-bucket"}, "bucket 'no-such-bucket' does not exist"),
    ({"env": {"NEO4J_PASSWORD": ""}}, "$NEO4J_PASSWORD is not set"),
    ({"env": {"NEO4J_PASSWORD": "wrong-password"}}, "refused user 'neo4j'"),
])
def test_configuration_errors_exit_2_with_a_clear_message(moto_s3, bucket, neo4j, neo4j_commands, change, message):
    args = common_args(moto_s3, change.get("bucket", bucket), neo4j, neo4j_commands)
    result = run_script("backup", [*args, "--offline-ok"], env=script_env(**change.get("env", {})))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
