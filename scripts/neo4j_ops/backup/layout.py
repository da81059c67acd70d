"""Where backups live in the bucket, what their manifest says, and which one a restore picks.

Pure: no I/O. A backup is the prefix `<stack>/<database>/<UTC timestamp>/`; it is complete when its
`manifest.json` is there and valid, and restorable when it is complete, the consistency check of its
artifact did not fail (the manifest's `check`: passed | failed | skipped), and so is every backup its
differential artifact builds on (its `parents`).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ..facts import Counts, SystemCounts, counts_from_json
from ..shared.versions import LINES

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_TIMESTAMP = re.compile(r"^\d{8}T\d{6}Z$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

BACKUP_TYPES = ("dump", "full", "differential")
# What a manifest holds; the rendered systemd job runs backup.py, so this is the only writer.
MANIFEST_KEYS = (
    "format", "stack", "database", "timestamp", "backup_type", "method", "neo4j_version", "edition",
    "version_line", "files", "size", "sha256", "counts", "counts_exact", "parents", "chain", "started",
    "completed", "host", "check", "check_detail",
)
# What the consistency check of a backup artifact found (make_backup.py); a "failed" one is never restored.
CHECK_RESULTS = ("passed", "failed", "skipped")
CHECK_REPORT = "check-report.txt"  # beside the manifest: the check's command, exit status and report


class ManifestError(ValueError):
    """A manifest that cannot be trusted: the backup counts as incomplete."""


def timestamp(now: datetime | None = None) -> str:
    """UTC timestamp naming a backup: 20250131T020000Z (sorts in time order as text)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def is_timestamp(text: str) -> bool:
    return bool(_TIMESTAMP.match(text))


def parse_time(text: str) -> datetime:
    """A backup timestamp (20250131T020000Z) or an ISO 8601 time (2025-01-31T02:00:00Z) → aware UTC."""
    text = text.strip()
    if _TIMESTAMP.match(text):
        return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time: give a backup timestamp such as 20250131T020000Z "
                         f"or an ISO time such as 2025-01-31T02:00:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def database_prefix(stack: str, database: str) -> str:
    return f"{stack}/{database}/"


def backup_prefix(stack: str, database: str, stamp: str) -> str:
    return f"{stack}/{database}/{stamp}/"


def object_key(stack: str, database: str, stamp: str, name: str) -> str:
    return backup_prefix(stack, database, stamp) + name


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Parent:
    """An earlier backup of the same chain that a differential artifact needs at restore time."""
    timestamp: str
    files: tuple[FileEntry, ...]


@dataclass(frozen=True)
class Manifest:
    stack: str
    database: str
    timestamp: str
    backup_type: str  # dump | full | differential
    method: str  # the neo4j-admin command that made it, for people
    neo4j_version: str
    edition: str
    version_line: str
    files: tuple[FileEntry, ...]
    counts: Counts | SystemCounts  # of `system`: its users, databases (and roles), read as it accepts
    counts_exact: bool  # counts were equal before and after the backup: the artifact holds exactly these
    started: str
    completed: str
    host: str
    parents: tuple[Parent, ...] = ()
    chain: str | None = None  # local staging chain (enterprise): the timestamp of its full backup
    check: str = "skipped"  # passed | failed | skipped: the consistency check of the artifact
    check_detail: str | None = None  # one line: what was checked and how it ended, or why it was skipped
    format: int = MANIFEST_FORMAT

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def is_folder_archive(self) -> bool:
        """A 4.4 online backup: its backup folder uploaded as one tar (5.x+ upload .backup artifacts)."""
        line = LINES.get(self.version_line)
        return self.backup_type != "dump" and line is not None and not line.backs_up_to_artifacts

    @property
    def sha256(self) -> str:
        # Every run uploads one file; with several, the digest is of the first (the files list has all).
        return self.files[0].sha256

    def to_json(self) -> str:
        document = asdict(self)
        document["size"] = self.size
        document["sha256"] = self.sha256
        document = {key: document[key] for key in MANIFEST_KEYS}
        return json.dumps(document, indent=2) + "\n"


def _need(document: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in document:
        raise ManifestError(f"no {key!r}")
    value = document[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{key!r} is {type(value).__name__}, not {getattr(kind, '__name__', kind)}")
    return value


def _files(items: Any, where: str) -> tuple[FileEntry, ...]:
    if not isinstance(items, list) or not items:
        raise ManifestError(f"{where}: 'files' must be a non-empty list")
    files = []
    for item in items:
        if not isinstance(item, dict):
            raise ManifestError(f"{where}: a file entry is not an object")
        name, size, sha = _need(item, "name", str), _need(item, "size", int), _need(item, "sha256", str)
        if not _NAME.match(name) or name == MANIFEST:
            raise ManifestError(f"{where}: bad file name {name!r}")
        if size < 0 or not _SHA256.match(sha):
            raise ManifestError(f"{where}: bad size or sha256 for {name}")
        files.append(FileEntry(name, size, sha))
    return tuple(files)


def _counts(document: Mapping[str, Any]) -> Counts | SystemCounts:
    try:
        return counts_from_json(document)
    except ValueError as error:
        raise ManifestError(str(error)) from None


def parse_manifest(data: bytes | str, *, expect_stack: str | None = None, expect_database: str | None = None,
                   expect_timestamp: str | None = None) -> Manifest:
    """Read and check a manifest; raises ManifestError saying what is wrong."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ManifestError(f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise ManifestError("not a JSON object")
    if _need(document, "format", int) != MANIFEST_FORMAT:
        raise ManifestError(f"format {document['format']} is not {MANIFEST_FORMAT}: written by a newer backup.py?")
    backup_type = _need(document, "backup_type", str)
    if backup_type not in BACKUP_TYPES:
        raise ManifestError(f"backup_type {backup_type!r} is not one of {', '.join(BACKUP_TYPES)}")
    counts = _need(document, "counts", dict)
    parents = []
    for parent in document.get("parents") or []:
        if not isinstance(parent, dict) or not is_timestamp(str(parent.get("timestamp", ""))):
            raise ManifestError("a parent has no timestamp")
        parents.append(Parent(parent["timestamp"], _files(parent.get("files"), f"parent {parent['timestamp']}")))
    manifest = Manifest(
        stack=_need(document, "stack", str),
        database=_need(document, "database", str),
        timestamp=_need(document, "timestamp", str),
        backup_type=backup_type,
        method=_need(document, "method", str),
        neo4j_version=_need(document, "neo4j_version", str),
        edition=_need(document, "edition", str),
        version_line=_need(document, "version_line", str),
        files=_files(document.get("files"), "manifest"),
        counts=_counts(counts),
        counts_exact=_need(document, "counts_exact", bool),
        started=_need(document, "started", str),
        completed=_need(document, "completed", str),
        host=_need(document, "host", str),
        parents=tuple(parents),
        chain=document.get("chain"),
        # Manifests written before backups were checked say nothing: they count as skipped.
        check=document.get("check", "skipped"),
        check_detail=document.get("check_detail", None if "check" in document else "made before backups were checked"),
    )
    if manifest.check_detail is not None and not isinstance(manifest.check_detail, str):
        raise ManifestError("'check_detail' is not text")
    if manifest.check not in CHECK_RESULTS:
        raise ManifestError(f"check {manifest.check!r} is not one of {', '.join(CHECK_RESULTS)}")
    if backup_type == "differential" and not parents:
        raise ManifestError("a differential backup without parents")
    if not is_timestamp(manifest.timestamp):
        raise ManifestError(f"timestamp {manifest.timestamp!r} is not like 20250131T020000Z")
    for label, expected, found in (("stack", expect_stack, manifest.stack),
                                   ("database", expect_database, manifest.database),
                                   ("timestamp", expect_timestamp, manifest.timestamp)):
        if expected is not None and expected != found:
            raise ManifestError(f"{label} is {found!r} but the backup sits under {expected!r}")
    if "size" in document and document["size"] != manifest.size:
        raise ManifestError("'size' is not the sum of the files' sizes")
    return manifest


# --- which backups there are, and which one to restore ---------------------------------------------


@dataclass(frozen=True)
class Backup:
    timestamp: str
    names: tuple[str, ...]  # object names under the prefix
    manifest: Manifest | None = None
    problem: str | None = None  # why it cannot be restored; None when it can
    damaged: bool = False  # an object the manifest lists is missing or not of the recorded size


    @property
    def complete(self) -> bool:
        return self.manifest is not None

    @property
    def failed_check(self) -> bool:
        return self.manifest is not None and self.manifest.check == "failed"

    @property
    def restorable(self) -> bool:
        """Complete, every object there, its check passed (or was skipped), and so is its whole chain."""
        return self.manifest is not None and self.problem is None

    @property
    def chain_start(self) -> str:
        """The timestamp of the full backup its chain starts with (its own for a full backup or a dump)."""
        if self.manifest is not None and self.manifest.parents:
            return self.manifest.parents[0].timestamp
        return self.timestamp

    @property
    def status(self) -> str:
        if self.restorable:
            return "complete"
        if self.failed_check:
            return "failed-check"
        return "incomplete" if self.manifest is None or self.damaged else "unrestorable"


def group_keys(keys: Iterable[str], stack: str, database: str) -> dict[str, list[str]]:
    """Object keys under <stack>/<database>/ → {timestamp: [names]} (other keys are ignored)."""
    prefix = database_prefix(stack, database)
    groups: dict[str, list[str]] = {}
    for key in keys:
        if not key.startswith(prefix):
            continue
        stamp, _, name = key[len(prefix):].partition("/")
        if is_timestamp(stamp) and name and "/" not in name:
            groups.setdefault(stamp, []).append(name)
    return groups


def catalog(groups: Mapping[str, list[str]], manifests: Mapping[str, Manifest | ManifestError],
            sizes: Mapping[str, Mapping[str, int]] | None = None) -> list[Backup]:
    """Every backup, oldest first, with why it can or cannot be restored.

    `manifests`: timestamp → the parsed manifest, or the error that made it unreadable (a prefix
    with no manifest object is simply absent). `sizes`: timestamp → {object name: bytes in the
    bucket}; an object whose size is not the manifest's makes its backup incomplete.
    """
    backups: dict[str, Backup] = {}
    for stamp in sorted(groups):
        names = tuple(sorted(groups[stamp]))
        found = manifests.get(stamp)
        if MANIFEST not in names or found is None:
            backups[stamp] = Backup(stamp, names, None, "no manifest: the upload did not finish")
        elif isinstance(found, ManifestError):
            backups[stamp] = Backup(stamp, names, None, f"unreadable manifest: {found}")
        else:
            missing = [f.name for f in found.files if f.name not in names]
            held = (sizes or {}).get(stamp, {})
            wrong = [f"{f.name} holds {held[f.name]} bytes, the manifest says {f.size}" for f in found.files
                     if f.name in names and f.name in held and held[f.name] != f.size]
            problem = (f"missing object(s) {', '.join(missing)}" if missing
                       else "; ".join(wrong) if wrong
                       else f"its consistency check failed ({found.check_detail or 'see ' + CHECK_REPORT}; report "
                            f"{CHECK_REPORT} beside the manifest)" if found.check == "failed" else None)
            backups[stamp] = Backup(stamp, names, found, problem, damaged=bool(missing or wrong))
    for stamp, backup in list(backups.items()):
        if backup.problem or backup.manifest is None:
            continue
        for parent in backup.manifest.parents:
            base = backups.get(parent.timestamp)
            if base is None or not base.restorable:
                why = "is gone (expired?)" if base is None else f"is {base.status}"
                backups[stamp] = Backup(stamp, backup.names, backup.manifest,
                                        f"needs backup {parent.timestamp} of its chain, which {why}")
                break
            if tuple(base.manifest.files) != tuple(parent.files):
                backups[stamp] = Backup(stamp, backup.names, backup.manifest,
                                        f"its chain's backup {parent.timestamp} is not the one it was made on")
                break
    return [backups[stamp] for stamp in sorted(backups)]


def choose(backups: list[Backup], at: str | None = None) -> tuple[Backup, str]:
    """The backup to restore and a sentence saying why; raises LookupError saying what is there.

    at=None: the newest restorable backup. at=a timestamp of a backup: that one, refused if it is
    not restorable. at=any other time: the newest restorable backup taken at or before it.
    """
    usable = [b for b in backups if b.restorable]
    if at is None:
        if not usable:
            raise LookupError(_nothing(backups))
        return usable[-1], f"newest complete backup ({len(usable)} complete of {len(backups)})"
    exact = next((b for b in backups if b.timestamp == at), None)
    if exact is not None:
        if not exact.restorable:
            older = [b.timestamp for b in usable if b.timestamp < at]
            hint = f"; the newest complete one before it is {older[-1]}" if older else ""
            raise LookupError(f"backup {at} is {exact.status}: {exact.problem}{hint}")
        return exact, f"backup {at}, as asked"
    moment = parse_time(at)
    before = [b for b in usable if parse_time(b.timestamp) <= moment]
    if not before:
        raise LookupError(f"no complete backup at or before {at}. {_nothing(backups)}")
    return before[-1], f"newest complete backup at or before {at}"


def _nothing(backups: list[Backup]) -> str:
    if not backups:
        return "there are no backups under this prefix"
    usable = [b.timestamp for b in backups if b.restorable]
    incomplete = [f"{b.timestamp} ({b.problem})" for b in backups if not b.restorable]
    text = f"complete backups: {', '.join(usable) if usable else 'none'}"
    if incomplete:
        text += f"; not restorable: {', '.join(incomplete[-5:])}"
    return text
