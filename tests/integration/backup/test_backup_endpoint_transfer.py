"""The S3 transfers of scripts/neo4j_ops/backup/s3.py against moto's S3 server on 127.0.0.1: the restore's
download in parallel ranged GETs (in order, verified, bounded), refusing an object overwritten meanwhile, and
the upload reading whole parts."""
from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest

from scripts.neo4j_ops.backup.layout import FileEntry
from scripts.neo4j_ops.backup.s3 import MiB, download_verified, stream_upload
from scripts.neo4j_ops.shared.errors import BackupError

pytestmark = pytest.mark.integration


def entry(data: bytes) -> FileEntry:
    return FileEntry("neo4j.dump", len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture
def s3(moto_s3, bucket):
    return moto_s3.client(), bucket


class Counting:
    """The client, counting the ranged GETs and the most in flight at once."""

    def __init__(self, client, after_first=None):
        self.client, self.after_first = client, after_first
        self.ranges: list[str] = []
        self.active = self.most = 0
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.client, name)

    def get_object(self, **kwargs):
        with self.lock:
            self.ranges.append(kwargs.get("Range"))
            self.active += 1
            self.most = max(self.most, self.active)
            first = len(self.ranges) == 1
        try:
            result = self.client.get_object(**kwargs)
            result["Body"] = io.BytesIO(result["Body"].read())
            if first and self.after_first:
                self.after_first()
            return result
        finally:
            with self.lock:
                self.active -= 1


def test_a_download_of_many_parts_comes_back_whole_and_in_order(s3, tmp_path):
    client, bucket = s3
    data = os.urandom(5 * MiB + 12345)
    client.put_object(Bucket=bucket, Key="k/neo4j.dump", Body=data)
    counting = Counting(client)
    download_verified(counting, bucket, "k/neo4j.dump", tmp_path / "neo4j.dump", entry(data), log=lambda _: None,
                      part_size=1 * MiB, concurrency=3)
    assert (tmp_path / "neo4j.dump").read_bytes() == data
    assert len(counting.ranges) == 6 and counting.ranges[0] == "bytes=0-1048575"
    assert 1 < counting.most <= 3  # parallel, and bounded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neo4j.dump"]


def test_an_object_overwritten_during_the_download_is_refused(s3, tmp_path):
    client, bucket = s3
    data = os.urandom(4 * MiB)
    client.put_object(Bucket=bucket, Key="k/neo4j.dump", Body=data)
    counting = Counting(client, after_first=lambda: client.put_object(Bucket=bucket, Key="k/neo4j.dump",
                                                                       Body=os.urandom(4 * MiB)))
    with pytest.raises(BackupError, match="changed while it was downloaded"):
        download_verified(counting, bucket, "k/neo4j.dump", tmp_path / "neo4j.dump", entry(data),
                          log=lambda _: None, part_size=1 * MiB, concurrency=1)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_object_downloads(s3, tmp_path):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="k/empty", Body=b"")
    download_verified(client, bucket, "k/empty", tmp_path / "empty", entry(b""), log=lambda _: None)
    assert (tmp_path / "empty").read_bytes() == b""


def test_a_corrupted_download_is_still_refused(s3, tmp_path):
    client, bucket = s3
    data = os.urandom(3 * MiB)
    client.put_object(Bucket=bucket, Key="k/neo4j.dump", Body=data)
    with pytest.raises(BackupError, match="is corrupted"):
        download_verified(client, bucket, "k/neo4j.dump", tmp_path / "neo4j.dump",
                          FileEntry("neo4j.dump", len(data), "0" * 64), log=lambda _: None, part_size=1 * MiB)
    assert list(tmp_path.iterdir()) == []


def test_the_upload_reads_whole_parts_from_a_pipe(s3):
    client, bucket = s3
    data = os.urandom(12 * MiB + 7)
    read_fd, write_fd = os.pipe()

    def produce():
        with os.fdopen(write_fd, "wb") as out:
            for start in range(0, len(data), 65536):
                out.write(data[start:start + 65536])

    writer = threading.Thread(target=produce)
    writer.start()
    with os.fdopen(read_fd, "rb") as source:
        up = stream_upload(client, bucket, "k/piped", source, part_size=5 * MiB, log=lambda _: None)
    writer.join()
    assert up.parts == 3 and up.size == len(data) and up.sha256 == hashlib.sha256(data).hexdigest()
    assert client.get_object(Bucket=bucket, Key="k/piped")["Body"].read() == data
