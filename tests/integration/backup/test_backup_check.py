"""The consistency check of every backup, for real: Neo4j Community 5.26 and moto's S3 server on 127.0.0.1.

A good dump passes `neo4j-admin database check` (read back from S3 into scratch space on the staging
directory, sha256-verified, then checked) and its report sits beside the manifest. A dump damaged on
its way out (bytes flipped in the stream neo4j-admin writes: a bad disk, a bad pipe) fails the check:
backup.py exits 1, the manifest says `check: failed`, restore.py never picks it (--latest takes the
good one, --at names why it refuses).
"""
from __future__ import annotations

import json

import pytest

from .conftest import common_args, keys, run_script
from .support import wrapped_admin

pytestmark = pytest.mark.integration

DAMAGING_ADMIN = '''#!{python}
"""neo4j-admin that flips 64 bytes in the middle of what `database dump --to-stdout` writes."""
import subprocess, sys
args = sys.argv[1:]
if args[:3] != ["database", "dump", "--to-stdout"]:
    sys.exit(subprocess.call([{admin!r}, *args]))
proc = subprocess.Popen([{admin!r}, *args], stdout=subprocess.PIPE)
data = bytearray(proc.stdout.read())
middle = len(data) // 2
for i in range(middle, min(middle + 64, len(data))):
    data[i] ^= 0xFF
sys.stdout.buffer.write(bytes(data))
sys.exit(proc.wait())
'''


@pytest.fixture
def damaging_admin(tmp_path, neo4j_commands):
    return wrapped_admin(tmp_path / "damaging-neo4j-admin", DAMAGING_ADMIN, neo4j_commands)


def manifest(moto_s3, bucket, stamp) -> dict:
    return json.loads(moto_s3.client().get_object(Bucket=bucket, Key=f"test/neo4j/{stamp}/manifest.json")
                      ["Body"].read())


def test_a_good_dump_passes_a_damaged_one_is_refused_and_never_restored(
        moto_s3, bucket, neo4j, neo4j_commands, damaging_admin, tmp_path):
    neo4j.query("MATCH (n) DETACH DELETE n")
    neo4j.query("UNWIND range(1, 120) AS i CREATE (:Person {id: i})-[:OWNS]->(:Thing {id: i})")
    staging = tmp_path / "staging"
    staging.mkdir()

    good = run_script("backup", [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--offline-ok", "--json",
                                 "--staging-dir", str(staging)])
    assert good.returncode == 0, good.stderr
    made = json.loads(good.stdout)
    stamp = made["backup"]
    assert made["check"] == "passed" and "consistent" in made["check_detail"]
    assert keys(moto_s3, bucket) == [f"test/neo4j/{stamp}/{name}"
                                     for name in ("check-report.txt", "manifest.json", "neo4j.dump")]
    assert manifest(moto_s3, bucket, stamp)["check"] == "passed"
    report = moto_s3.client().get_object(Bucket=bucket, Key=f"test/neo4j/{stamp}/check-report.txt")["Body"].read()
    assert b"exit status: 0" in report and b"database check --from-path=" in report
    assert "reading the uploaded dump back" in good.stderr
    assert list(staging.rglob("*")) == [staging / "neo4j"]  # the check's scratch space is gone
    tags = moto_s3.client().get_object_tagging(Bucket=bucket, Key=f"test/neo4j/{stamp}/neo4j.dump")["TagSet"]
    assert tags == []  # the newest restorable backup never expires

    bad = run_script("backup", [*common_args(moto_s3, bucket, neo4j, damaging_admin), "--offline-ok", "--json",
                                "--staging-dir", str(staging)])
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "failed its consistency check" in bad.stderr and "Traceback" not in bad.stderr
    stamps = sorted({key.split("/")[2] for key in keys(moto_s3, bucket)})
    assert len(stamps) == 2 and stamps[0] == stamp
    damaged = stamps[1]
    written = manifest(moto_s3, bucket, damaged)
    assert written["check"] == "failed" and "exit" in written["check_detail"]
    assert neo4j.status()["running"] and neo4j.counts() == (240, 120)  # started again after the dump

    listed = run_script("restore", [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--list", "--json"])
    rows = {row["timestamp"]: row for row in json.loads(listed.stdout)["backups"]}
    assert rows[damaged]["status"] == "failed-check" and "consistency check failed" in rows[damaged]["problem"]
    assert rows[stamp]["status"] == "complete"

    status = neo4j.status()
    refused = run_script("restore", [*common_args(moto_s3, bucket, neo4j, neo4j_commands), "--work-dir",
                                     str(tmp_path), "--at", damaged, "--yes"])
    assert refused.returncode == 1 and "failed-check" in refused.stderr and stamp in refused.stderr
    assert neo4j.status() == status  # nothing was stopped

    from scripts.neo4j_ops.backup.layout import choose
    from scripts.neo4j_ops.backup.s3 import list_backups

    chosen, _ = choose(list_backups(moto_s3.client(), bucket, "test", "neo4j"))
    assert chosen.timestamp == stamp  # --latest takes the good one
