"""Enterprise online backups (no Enterprise server here): the chain logic of backup.py with a stand-in
neo4j-admin that writes backup artifacts as `neo4j-admin database backup --type=AUTO` does, S3 mocked
in-process by moto, and the server's answers (version, edition, counts) given.

What it pins: a full backup, then differentials that name their chain as parents; a new chain after
--full-every-days or when an artifact was never uploaded; a restore of a differential fetches and
verifies its whole chain and hands it to `neo4j-admin database restore`; an interrupted multipart
upload is aborted and leaves nothing behind.
"""
from __future__ import annotations

import io
from datetime import timedelta

import pytest

from scripts.neo4j_ops.backup import make_backup, restore_backup
from scripts.neo4j_ops.backup.s3 import MiB, list_backups, stream_upload
from scripts.neo4j_ops.backup.source import choose_source
from scripts.neo4j_ops.shared.errors import BackupError, UsageError
from scripts.neo4j_ops.shared.versions import LINE_5
from tests.support.backup_standins import NOW, Refusing, manifest_of, recorded_show_databases, run


def test_full_then_differentials_that_name_their_chain(s3, admin, tmp_path):
    staging = tmp_path / "staging"
    first = run(admin, staging, NOW)
    second = run(admin, staging, NOW + timedelta(days=1))
    third = run(admin, staging, NOW + timedelta(days=2))
    assert [first["type"], second["type"], third["type"]] == ["full", "differential", "differential"]

    m1, m3 = manifest_of(s3, first["backup"]), manifest_of(s3, third["backup"])
    assert m1["parents"] == [] and m1["chain"] == first["backup"]
    assert [p["timestamp"] for p in m3["parents"]] == [first["backup"], second["backup"]]
    assert m3["parents"][0]["files"] == m1["files"]
    assert m1["method"] == "neo4j-admin database backup --type=FULL"
    assert m3["method"] == "neo4j-admin database backup --type=DIFF" and m3["edition"] == "enterprise"
    assert m1["check"] == m3["check"] == "passed"
    chain = staging / "neo4j" / first["backup"]
    assert len(list(chain.glob("*.backup"))) == 3 and len(list(chain.glob("manifest-*.json"))) == 3

    later = run(admin, staging, NOW + timedelta(days=9))
    assert later["type"] == "full" and manifest_of(s3, later["backup"])["chain"] == later["backup"]


def test_an_artifact_that_was_never_uploaded_starts_a_new_chain(s3, admin, tmp_path):
    staging = tmp_path / "staging"
    first = run(admin, staging, NOW)
    (staging / "neo4j" / first["backup"] / "neo4j-1.backup").write_bytes(b"left by a failed run")
    second = run(admin, staging, NOW + timedelta(days=1))
    assert second["type"] == "full"


def test_restoring_a_differential_fetches_and_verifies_its_whole_chain(s3, admin, tmp_path):
    staging = tmp_path / "staging"
    first = run(admin, staging, NOW)
    second = run(admin, staging, NOW + timedelta(days=1))
    options = restore_backup.RestoreOptions(bucket="backups", stack="prod", database="neo4j", neo4j=None,
                                            admin=admin, region="us-east-1", log=lambda _: None)
    chosen = restore_backup._pick(options, s3)
    assert chosen.timestamp == second["backup"]
    into = tmp_path / "download"
    restore_backup._fetch(options, s3, chosen, into)
    names = sorted(p.name for p in into.iterdir())
    assert names == sorted(f["name"] for f in first["files"] + second["files"])
    source = restore_backup._source_dir(chosen.manifest, into)
    assert restore_backup._apply_args(LINE_5, chosen.manifest, source) == [
        "database", "restore", f"--from-path={into}", "--overwrite-destination=true", "neo4j"]

    # The chain's full backup expires first (S3 lifecycle): its differentials are no longer restorable.
    s3.delete_object(Bucket="backups", Key=f"prod/neo4j/{first['backup']}/manifest.json")
    backups = {b.timestamp: b for b in list_backups(s3, "backups", "prod", "neo4j")}
    assert not backups[second["backup"]].restorable
    assert "which is incomplete" in backups[second["backup"]].problem


class Failing(io.RawIOBase):
    """12 MiB of data, then an error: a producer that dies mid-stream."""

    def __init__(self):
        self.sent = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.sent >= 12 * MiB:
            raise OSError("producer died")
        count = min(len(buffer), 1 * MiB)
        buffer[:count] = b"x" * count
        self.sent += count
        return count


def test_a_failed_stream_aborts_the_multipart_upload_and_leaves_nothing(s3):
    notes = []
    with pytest.raises(OSError, match="producer died"):
        stream_upload(s3, "backups", "prod/neo4j/20250301T020000Z/neo4j.dump", io.BufferedReader(Failing()),
                      part_size=5 * MiB, concurrency=2, log=notes.append)
    assert s3.list_objects_v2(Bucket="backups").get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket="backups").get("Uploads", []) == []
    assert any("aborted the unfinished upload" in note for note in notes)


def test_a_producer_that_fails_at_the_end_completes_nothing(s3):
    def refuse():
        raise BackupError("neo4j-admin database dump failed (exit 1)")

    with pytest.raises(BackupError, match="dump failed"):
        stream_upload(s3, "backups", "k/neo4j.dump", io.BytesIO(b"y" * (11 * MiB)), part_size=5 * MiB,
                      before_complete=refuse, log=lambda _: None)
    assert s3.list_objects_v2(Bucket="backups").get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket="backups").get("Uploads", []) == []


@pytest.mark.parametrize("memory_part_limit", [8 * MiB, 0], ids=["parts-in-memory", "parts-spooled"])
def test_a_streamed_upload_has_the_size_and_sha256_of_its_source(s3, memory_part_limit, tmp_path):
    import hashlib

    data = bytes(range(256)) * (45 * 1024)  # 11.25 MiB: three parts of 5 MiB
    uploaded = stream_upload(s3, "backups", "k/blob", io.BytesIO(data), part_size=5 * MiB, log=lambda _: None,
                             memory_part_limit=memory_part_limit, spool_dir=str(tmp_path))
    assert (uploaded.size, uploaded.sha256, uploaded.parts) == (len(data), hashlib.sha256(data).hexdigest(), 3)
    assert s3.get_object(Bucket="backups", Key="k/blob")["Body"].read() == data


# --- faults of the online path -----------------------------------------------------------------------


def all_keys(s3) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket="backups").get("Contents", []))


def test_an_online_backup_whose_upload_fails_leaves_no_manifest(s3, admin, tmp_path, monkeypatch):
    """Fault: "manifest written last" was tested only on the dump path. Here the artifact's upload is
    refused: no manifest in S3 nor in staging, and the next run starts a new chain with a full backup."""
    staging = tmp_path / "staging"
    first = run(admin, staging, NOW)
    real_client = make_backup.client
    monkeypatch.setattr(make_backup, "client", lambda *a, **k: Refusing(
        real_client(*a, **k), lambda name, kw: name in ("put_object", "upload_part") and
        kw.get("Key", "").endswith(".backup")))
    with pytest.raises(BackupError, match="upload to s3://backups/prod/neo4j/.*failed"):
        run(admin, staging, NOW + timedelta(days=1))
    failed = make_backup.make_timestamp(NOW + timedelta(days=1))
    assert [k for k in all_keys(s3) if failed in k] == []
    chain = staging / "neo4j" / first["backup"]
    assert sorted(p.name for p in chain.glob("manifest-*.json")) == [f"manifest-{first['backup']}.json"]
    assert len(list(chain.glob("*.backup"))) == 2  # the failed run's artifact stays, unrecorded
    monkeypatch.setattr(make_backup, "client", real_client)
    assert run(admin, staging, NOW + timedelta(days=2))["type"] == "full"


def test_a_role_that_cannot_write_is_refused_before_neo4j_admin_runs(s3, admin, tmp_path, monkeypatch):
    """Fault: a read-only role stopped Neo4j and dumped before the upload failed. Write access is probed
    (a multipart upload started and aborted) before anything else is done."""
    real_client = make_backup.client
    monkeypatch.setattr(make_backup, "client", lambda *a, **k: Refusing(
        real_client(*a, **k), lambda name, kw: name in ("create_multipart_upload", "put_object")))
    staging = tmp_path / "staging"
    with pytest.raises(UsageError, match="may read bucket 'backups' but not write to it"):
        run(admin, staging, NOW)
    assert not list(staging.rglob("*.backup")) and all_keys(s3) == []
    assert s3.list_multipart_uploads(Bucket="backups").get("Uploads", []) == []


def test_a_download_onto_a_full_disk_names_the_path_and_removes_the_partial_file(s3, tmp_path, monkeypatch):
    """Fault: disk errors during a restore's download gave no path and could leave partial files."""
    import errno
    import hashlib
    import os

    from scripts.neo4j_ops.backup import s3 as s3_module
    from scripts.neo4j_ops.backup.layout import FileEntry
    from scripts.neo4j_ops.backup.s3 import download_verified

    def full_disk(*_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    data = b"z" * (3 * MiB)
    s3.put_object(Bucket="backups", Key="prod/neo4j/20250301T020000Z/neo4j.dump", Body=data)
    destination = tmp_path / "neo4j.dump"
    # Every write: ENOSPC (the partial file is made anew, never through a link: a link to /dev/full is removed).
    monkeypatch.setattr(s3_module, "_write", full_disk)
    with pytest.raises(BackupError) as failed:
        download_verified(s3, "backups", "prod/neo4j/20250301T020000Z/neo4j.dump", destination,
                          FileEntry("neo4j.dump", len(data), hashlib.sha256(data).hexdigest()), log=lambda _: None)
    assert str(tmp_path / "neo4j.dump.part") in str(failed.value) and "No space left" in str(failed.value)
    assert list(tmp_path.iterdir()) == []


# --- which server a backup comes from (recorded enterprise responses: 5.26 and 4.4 SHOW DATABASES) -----


@pytest.mark.parametrize("scenario", ["cluster-5.26-healthy", "cluster-4.4-healthy"])
@pytest.mark.parametrize("database", ["neo4j", "system"])
def test_the_source_is_a_secondary_hosting_the_database_from_recorded_enterprise_responses(scenario, database):
    chosen = choose_source(recorded_show_databases(scenario), database, 6362)
    assert (chosen.address, chosen.kind) == ("replica-1.prod.neo4j.internal:6362", "secondary")


@pytest.mark.parametrize("scenario", ["cluster-5.26-healthy", "cluster-4.4-healthy"])
def test_without_a_secondary_online_a_follower_never_the_writer_from_recorded_enterprise_responses(scenario):
    rows = [dict(r, currentStatus="unknown", address=None) if r["address"].startswith("replica-1") else r
            for r in recorded_show_databases(scenario)]
    for database, writer in (("neo4j", "core-1"), ("system", "core-2" if "5.26" in scenario else "core-1")):
        chosen = choose_source(rows, database, 6362)
        assert chosen.kind == "follower" and not chosen.host.startswith(writer)


def test_the_named_server_is_preferred_and_passed_over_when_it_moved_from_recorded_enterprise_responses():
    rows = recorded_show_databases("cluster-5.26-healthy")
    assert choose_source(rows, "neo4j", 6362, "core-3.prod.neo4j.internal:6362").host.startswith("replica-1")
    only_followers = [r for r in rows if not r["address"].startswith("replica-1")]
    assert choose_source(only_followers, "neo4j", 6362, "core-3.prod.neo4j.internal:6362").host == \
        "core-3.prod.neo4j.internal"
    moved = choose_source(rows, "neo4j", 6362, "replica-2.prod.neo4j.internal:6362")  # no such server any more
    assert moved.host == "replica-1.prod.neo4j.internal" and "replica-2.prod.neo4j.internal hosts no copy" in moved.why


def test_only_the_writer_left_is_used_and_none_at_all_is_a_clear_error_from_recorded_enterprise_responses():
    rows = [r for r in recorded_show_databases("cluster-5.26-healthy") if r["address"].startswith("core-1")]
    chosen = choose_source(rows, "neo4j", 6362)
    assert chosen.kind == "writer" and "backing up from the writer" in chosen.why
    with pytest.raises(BackupError, match="no server hosts database 'sales' online"):
        choose_source(rows, "sales", 6362)


def test_an_online_backup_runs_neo4j_admin_against_every_hosting_server_secondary_first(s3, admin, tmp_path):
    # --from names replica-2, which the cluster no longer has. The manual (5.x, online-backup.adoc, "Targeting
    # multiple servers"): "It is recommended to provide a list of multiple target servers when taking a backup
    # from a cluster, since that may allow a backup to succeed even if some server is down". core-1 writes neo4j
    # in this recording: it is left out while others host the database.
    made = run(admin, tmp_path / "staging", NOW)
    assert made["source"] == ("replica-1.prod.neo4j.internal:6362,core-2.prod.neo4j.internal:6362,"
                              "core-3.prod.neo4j.internal:6362")


def test_staging_short_of_space_is_refused_before_neo4j_admin_runs_saying_where_and_how_much(
        s3, admin, tmp_path, monkeypatch):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("scripts.neo4j_ops.backup.staging.shutil.disk_usage",
                        lambda path: usage(10 ** 12, 0, 200 * MiB))
    staging = tmp_path / "staging"
    with pytest.raises(UsageError) as refused:
        run(admin, staging, NOW, min_free=512 * MiB)
    message = str(refused.value)
    assert str(staging / "neo4j") in message and "200.0 MiB free" in message and "512.0 MiB" in message
    assert "Nothing was started" in message
    assert not list(staging.rglob("*.backup")) and all_keys(s3) == []
