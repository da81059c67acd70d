"""S3 side: a streaming multipart upload with bounded memory, verified downloads, the backup catalogue.

The upload reads its source (a pipe from `neo4j-admin database dump --to-stdout`, or a file) one
part at a time, hashing as it goes, and keeps at most `concurrency + 1` parts alive. Parts of up to
`memory_part_limit` (8 MiB, the default part size) are held in memory: about 11 x 8 MiB with the
default 10 parts in flight (`aws s3 cp`'s 10 concurrent requests of 8 MiB). Larger parts, which only
stores of more than ~40 GB need (S3 allows 10,000 parts), are spooled to temporary files instead, so
memory stays bounded whatever the size.
On any failure, or SIGTERM, the multipart upload is aborted, so an interrupted backup leaves no
object and no manifest.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from ..shared.errors import BackupError, UsageError, describe
from .layout import (
    MANIFEST,
    Backup,
    FileEntry,
    Manifest,
    ManifestError,
    catalog,
    database_prefix,
    group_keys,
    object_key,
    parse_manifest,
)

MiB = 1024 * 1024
MIN_PART = 5 * MiB  # S3's smallest part (except the last)
MAX_PARTS = 10_000  # S3's most parts per upload
DEFAULT_PART = 8 * MiB
READ_CHUNK = 1 * MiB


def client(endpoint_url: str | None, region: str | None, concurrency: int = 10):
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UsageError("boto3 is not installed: pip install boto3 (Debian: apt-get install python3-boto3)") from None
    config = Config(max_pool_connections=max(10, concurrency + 2), retries={"max_attempts": 5, "mode": "standard"},
                    connect_timeout=10, read_timeout=120)
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


NO_CREDENTIALS = ("no AWS credentials found: nothing was stopped or changed. On the backup server the instance "
                  "role provides them; elsewhere set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")


def check_bucket(s3, bucket: str) -> None:
    """Fail early and clearly when the bucket is missing or unreachable, or no credentials were found."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    try:
        s3.head_bucket(Bucket=bucket)
    except (NoCredentialsError, PartialCredentialsError):
        raise UsageError(NO_CREDENTIALS) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket"):
            raise UsageError(f"bucket {bucket!r} does not exist (check --bucket, --endpoint-url and --region)") \
                from None
        if code in ("403", "AccessDenied"):
            raise UsageError(f"access to bucket {bucket!r} denied: check the credentials (instance role or "
                             f"AWS_* variables)") from None
        raise BackupError(f"cannot reach bucket {bucket!r}: {describe(error)}") from None
    except BotoCoreError as error:
        raise BackupError(f"cannot reach S3 for bucket {bucket!r}: {describe(error)}") from None


def check_writable(s3, bucket: str, key: str, log: Callable[[str], None] | None = None) -> list[str]:
    """Prove that this role may write `key` (and abort uploads) before anything is stopped: abort the uploads
    earlier runs left unfinished beside it (`abort_stale_uploads`), start a multipart upload of `key` and abort
    it at once. Leaves no object behind. Returns the keys of the stale uploads aborted."""
    from botocore.exceptions import BotoCoreError, ClientError

    stale = abort_stale_uploads(s3, bucket, key.rsplit("/", 2)[0] + "/", log or (lambda _: None))

    try:
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("403", "AccessDenied", "AllAccessDisabled"):
            raise UsageError(f"this role may read bucket {bucket!r} but not write to it (s3:PutObject on "
                             f"{key} denied): nothing was stopped or backed up; fix the instance role's policy") \
                from None
        raise BackupError(f"cannot write to bucket {bucket!r}: {describe(error)}; nothing was stopped") from None
    except BotoCoreError as error:
        raise BackupError(f"cannot write to bucket {bucket!r}: {describe(error)}; nothing was stopped") from None
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"this role may start uploads to bucket {bucket!r} but not abort them "
                         f"(s3:AbortMultipartUpload: {describe(error)}): an interrupted backup would leave its "
                         f"parts; nothing was stopped") from None
    return stale


STALE_AFTER = timedelta(minutes=10)


def abort_stale_uploads(s3, bucket: str, prefix: str, log: Callable[[str], None], *, now: datetime | None = None,
                        idle: timedelta = STALE_AFTER) -> list[str]:
    """Abort the multipart uploads under `prefix` that earlier runs left unfinished (killed mid-way: nothing
    aborted them), so their parts are not kept and billed until the bucket's lifecycle rule. An upload is
    stale when nothing was added to it for `idle` (its newest part, else its start): a run still uploading
    adds a part every few seconds. Returns the keys aborted; a failure to list or abort is only logged (the
    bucket's AbortIncompleteMultipartUpload rule removes those parts later)."""
    from botocore.exceptions import BotoCoreError, ClientError

    now = now or datetime.now(UTC)
    aborted = []
    try:
        pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
        for upload in (u for page in pages for u in page.get("Uploads", [])):
            key, upload_id = upload["Key"], upload["UploadId"]
            parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get("Parts", [])
            last = max([p["LastModified"] for p in parts] or [upload["Initiated"]])
            if now - last < idle:
                continue
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            aborted.append(key)
            log(f"aborted the unfinished upload of s3://{bucket}/{key} an earlier run left ({len(parts)} part(s), "
                f"the last {last:%Y-%m-%d %H:%M:%S %Z})")
    except (ClientError, BotoCoreError) as error:  # the backup itself does not need this: say so and go on
        log(f"warning: could not clean up the unfinished uploads under s3://{bucket}/{prefix} ({describe(error)}; "
            f"the role needs s3:ListBucketMultipartUploads, s3:ListMultipartUploadParts and "
            f"s3:AbortMultipartUpload); the bucket's AbortIncompleteMultipartUpload rule will remove their parts")
    return aborted


def part_size_for(expected_bytes: int | None, requested: int | None = None) -> int:
    """A part size that fits `expected_bytes` (with room to grow 2x) into S3's 10,000 parts."""
    if requested:
        if requested < MIN_PART:
            raise UsageError(f"--part-size must be at least 5MiB (S3's smallest part), got {requested} bytes")
        return requested
    if not expected_bytes:
        return DEFAULT_PART
    needed = -(-2 * expected_bytes // (MAX_PARTS - 100))
    return max(DEFAULT_PART, -(-needed // MiB) * MiB)


@dataclass(frozen=True)
class Uploaded:
    key: str
    size: int
    sha256: str
    parts: int
    seconds: float

    def entry(self) -> FileEntry:
        return FileEntry(self.key.rsplit("/", 1)[-1], self.size, self.sha256)


class Progress:
    """Prints "<what>: 1.2 GiB at 85 MiB/s" at most every `every` seconds."""

    def __init__(self, what: str, log: Callable[[str], None], every: float = 5.0):
        self.what, self.log, self.every = what, log, every
        self.start = self.last = time.monotonic()
        self.done = 0
        self.lock = threading.Lock()

    def add(self, count: int) -> None:
        with self.lock:
            self.done += count
            now = time.monotonic()
            if now - self.last >= self.every:
                self.last = now
                self.log(f"{self.what}: {human(self.done)} at {human(self.rate())}/s")

    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.start, 1e-6)


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def stream_upload(s3, bucket: str, key: str, source: IO[bytes], *, part_size: int = DEFAULT_PART,
                  concurrency: int = 10, memory_part_limit: int = 8 * MiB, spool_dir: str | None = None,
                  log: Callable[[str], None] = print, before_complete: Callable[[], None] | None = None,
                  metadata: dict[str, str] | None = None) -> Uploaded:
    """Upload everything `source` yields to s3://bucket/key; abort the upload on any failure.

    `before_complete` runs after the source is exhausted and before the upload is completed: the
    caller checks there that the producer (neo4j-admin) succeeded, and raises if not.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    started = time.monotonic()
    digest = hashlib.sha256()
    progress = Progress(f"uploaded s3://{bucket}/{key}", log)
    total = 0
    buffers: list[IO[bytes]] = []  # every part buffer not yet closed
    lock = threading.Lock()

    def fill() -> tuple[IO[bytes], int]:
        # A part held in memory is one bytes object (BytesIO shares it, no copy); a larger one is spooled
        # to a temporary file, so memory stays bounded whatever part size the store's size needs.
        nonlocal total
        in_memory = part_size <= memory_part_limit
        chunks: list[bytes] = []
        spool: IO[bytes] | None = None if in_memory else tempfile.TemporaryFile(dir=spool_dir)
        filled = 0
        while filled < part_size:
            # In memory: one read of the whole part (a buffered pipe or file returns it in one piece, so no
            # join copies it again); spooled: bounded reads.
            chunk = source.read(part_size - filled if spool is None else min(READ_CHUNK, part_size - filled))
            if not chunk:
                break
            digest.update(chunk)
            if spool is None:
                chunks.append(chunk)
            else:
                spool.write(chunk)
            filled += len(chunk)
        joined = (chunks[0] if len(chunks) == 1 else b"".join(chunks)) if spool is None else b""
        buffer: IO[bytes] = io.BytesIO(joined) if spool is None else spool
        del chunks
        buffer.seek(0)
        with lock:
            buffers.append(buffer)
        total += filled
        return buffer, filled

    def release(buffer: IO[bytes]) -> None:
        buffer.close()
        with lock:
            if buffer in buffers:
                buffers.remove(buffer)

    upload_id = None
    try:
        first, size = fill()
        if size < part_size:  # everything fits one request
            if before_complete:
                before_complete()
            s3.put_object(Bucket=bucket, Key=key, Body=first, ContentLength=size, **_meta(metadata))
            progress.add(size)
            release(first)
            return Uploaded(key, size, digest.hexdigest(), 1, time.monotonic() - started)
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **_meta(metadata))["UploadId"]
        slots = threading.BoundedSemaphore(concurrency)
        futures: list[Future] = []

        def send(number: int, body: IO[bytes], length: int) -> dict[str, Any]:
            try:
                # A part in memory goes as bytes: one sendall, not a Python loop over 16 KiB blocks.
                payload = body.getvalue() if isinstance(body, io.BytesIO) else body
                result = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=payload,
                                        ContentLength=length)
                progress.add(length)
                return {"PartNumber": number, "ETag": result["ETag"]}
            finally:
                release(body)
                slots.release()

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-part") as pool:
            number, body, length = 1, first, size
            while length:
                if number > MAX_PARTS:
                    raise BackupError(f"more than {MAX_PARTS} parts of {human(part_size)}: the dump is larger than "
                                      f"expected; run again with a larger --part-size")
                slots.acquire()
                failed = [f for f in futures if f.done() and f.exception()]
                if failed:
                    slots.release()
                    raise failed[0].exception()
                futures.append(pool.submit(send, number, body, length))
                if length < part_size:
                    break
                number += 1
                body, length = fill()
                if not length:
                    release(body)
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception():
                    raise future.exception()
            parts = [f.result() for f in futures]
        if before_complete:
            before_complete()
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                     MultipartUpload={"Parts": sorted(parts, key=lambda p: p["PartNumber"])})
        upload_id = None
        head = s3.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] != total:
            raise BackupError(f"s3://{bucket}/{key} holds {head['ContentLength']} bytes after the upload, "
                              f"not the {total} sent")
        return Uploaded(key, total, digest.hexdigest(), len(parts), time.monotonic() - started)
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"upload to s3://{bucket}/{key} failed: {describe(error)}") from None
    finally:
        if upload_id is not None:
            abort(s3, bucket, key, upload_id, log)
        for buffer in list(buffers):
            release(buffer)


def _meta(metadata: dict[str, str] | None) -> dict[str, Any]:
    return {"Metadata": metadata} if metadata else {}


def abort(s3, bucket: str, key: str, upload_id: str, log: Callable[[str], None]) -> None:
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        log(f"aborted the unfinished upload of s3://{bucket}/{key}: no object and no manifest were written")
    except Exception as error:  # the bucket's lifecycle rule removes it later
        log(f"could not abort the unfinished upload of s3://{bucket}/{key} ({describe(error)}); "
            f"the bucket's AbortIncompleteMultipartUpload rule will remove its parts")


def put_manifest(s3, bucket: str, manifest: Manifest) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    key = object_key(manifest.stack, manifest.database, manifest.timestamp, MANIFEST)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=manifest.to_json().encode(), ContentType="application/json")
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"writing the manifest s3://{bucket}/{key} failed: {describe(error)}; the backup "
                          f"stays incomplete and will not be restored") from None
    return key


def list_backups(s3, bucket: str, stack: str, database: str) -> list[Backup]:
    """Every backup under <stack>/<database>/, oldest first, with its manifest read and checked."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        keys = []
        held: dict[str, int] = {}
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=database_prefix(stack, database))
        for page in pages:
            for item in page.get("Contents", []):
                keys.append(item["Key"])
                held[item["Key"]] = item.get("Size", -1)
        groups = group_keys(keys, stack, database)
        sizes = {stamp: {name: held[object_key(stack, database, stamp, name)] for name in names}
                 for stamp, names in groups.items()}
        manifests: dict[str, Manifest | ManifestError] = {}
        for stamp, names in groups.items():
            if MANIFEST not in names:
                continue
            body = s3.get_object(Bucket=bucket, Key=object_key(stack, database, stamp, MANIFEST))["Body"].read()
            try:
                manifests[stamp] = parse_manifest(body, expect_stack=stack, expect_database=database,
                                                  expect_timestamp=stamp)
            except ManifestError as error:
                manifests[stamp] = error
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"listing s3://{bucket}/{database_prefix(stack, database)} failed: {describe(error)}") \
            from None
    return catalog(groups, manifests, sizes)


DOWNLOAD_PART = 8 * MiB
DOWNLOAD_CONCURRENCY = 10  # as `aws s3 cp` (max_concurrent_requests 10)


def download_verified(s3, bucket: str, key: str, destination: Path, expected: FileEntry,
                      log: Callable[[str], None] = print, *, part_size: int = DOWNLOAD_PART,
                      concurrency: int = DOWNLOAD_CONCURRENCY) -> float:
    """Download to `destination`, hashing on the way; raise BackupError (and delete the file) unless the
    size and sha256 are the manifest's. Returns seconds taken.

    Ranged GETs of `part_size` run `concurrency` at a time (as `aws s3 cp` does), each pinned to the object's
    ETag (If-Match), so an object overwritten meanwhile fails instead of mixing two versions. Parts are
    hashed and written in order by this thread: at most `concurrency + 1` parts are held, whatever the size."""
    from botocore.exceptions import BotoCoreError, ClientError

    started = time.monotonic()
    progress = Progress(f"downloaded s3://{bucket}/{key}", log)
    digest = hashlib.sha256()
    size = 0
    partial = destination.with_name(destination.name + ".part")

    def fetch(first: int, last: int, etag: str) -> bytes:
        data = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}", IfMatch=etag)["Body"].read()
        if len(data) != last - first + 1:
            raise BackupError(f"s3://{bucket}/{key}: bytes {first}-{last} came back as {len(data)} bytes")
        return data

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        length, etag = head["ContentLength"], head["ETag"]
        ranges = [(start, min(start + part_size, length) - 1) for start in range(0, length, part_size)]
        partial.unlink(missing_ok=True)  # a leftover (or a planted link) goes; the file is made anew, no link followed
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644),
                  "wb") as out, ThreadPoolExecutor(max_workers=max(1, concurrency),
                                                            thread_name_prefix="s3-get") as pool:
            window: list[Future] = []
            queued = iter(ranges)
            try:
                for first, last in queued:
                    window.append(pool.submit(fetch, first, last, etag))
                    if len(window) > concurrency:  # one part being written, `concurrency` on the wire
                        size += _write(window.pop(0).result(), out, digest, progress)
                while window:
                    size += _write(window.pop(0).result(), out, digest, progress)
            finally:
                for future in window:
                    future.cancel()
    except (ClientError, BotoCoreError) as error:
        partial.unlink(missing_ok=True)
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "412"):
            raise BackupError(f"s3://{bucket}/{key} changed while it was downloaded; nothing was changed on the "
                              f"server: run the restore again") from None
        raise BackupError(f"downloading s3://{bucket}/{key} failed: {describe(error)}") from None
    except OSError as error:  # a full disk, a lost mount: the partial file goes, the path is named
        partial.unlink(missing_ok=True)
        raise BackupError(f"writing {partial} failed ({error.strerror or error}); the partial file was removed "
                          f"and nothing was changed on the server") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    found = digest.hexdigest()
    if size != expected.size or found != expected.sha256:
        partial.unlink(missing_ok=True)
        raise BackupError(
            f"s3://{bucket}/{key} is corrupted: the manifest says {expected.size} bytes with sha256 "
            f"{expected.sha256}, the download has {size} bytes with sha256 {found}. Nothing was changed on "
            f"the server. Pick an older backup (restore.py --list, then --at TIMESTAMP).")
    os.replace(partial, destination)
    return time.monotonic() - started


def _write(data: bytes, out: IO[bytes], digest: Any, progress: Progress) -> int:
    digest.update(data)
    out.write(data)
    progress.add(len(data))
    return len(data)
