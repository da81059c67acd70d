"""The backup tooling (scripts/backup.py, scripts/restore.py, the operator runtime's backup part) as one archive.

The backup server's timer runs these scripts; at 100 KB they do not fit EC2's 16 KB user data, so
the AWS adapter stores the archive in the backup bucket and setup-neo4j.sh fetches it at boot. The
archive is byte-for-byte reproducible (sorted names, fixed times and owners): an unchanged tree
gives an unchanged object, and `pulumi preview` shows no change.

The adapter may add rendered files of its own under a folder of the archive (`extra_files`): the AWS adapter
ships the stack's backup job (systemd units and their launcher) under job/, which refresh-backup-tooling.sh
installs when the archive changed, so a change to the job reaches the backup server without a new instance.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Everything root on a machine runs or loads from the bucket lives under this prefix (the archive, haproxy.cfg):
# no machine role may write there (components/aws/machine.py, NeverWriteWhatRootRuns).
TOOLING_PREFIX = "tooling/"
TOOLING_KEY = f"{TOOLING_PREFIX}neo4j-cluster-backup-tools.tar.gz"
# Where the archive unpacks on the backup server (neo4j-backup.sh looks there).
TOOLING_DIR = "/usr/local/lib/neo4j-cluster/scripts"
# The backup server's instance tag holding the archive's sha256: refresh-backup-tooling.sh installs (as root) only
# an archive with that hash. The deploy sets it; no machine role may tag, and a writer to the bucket cannot change it.
TOOLING_SHA256_TAG = "ToolingSha256"


# What backup.py and restore.py import of the operator runtime (scripts/neo4j_ops/): its backup part and
# the shared pieces under it, nothing of check, security or diagnose. tests/unit/test_tooling.py runs
# the unpacked archive alone, with only boto3 and the neo4j driver, and compares it with what it imports.
RUNTIME_SHARED = ("__init__.py", "cli.py", "bolt.py", "queries.py", "facts.py", "parallel.py")
# Packages shipped whole: the part components/ shares with the runtime, and the backup part.
RUNTIME_PACKAGES = ("shared", "backup")
# Modules of those packages that backup.py and restore.py do not import: the version guard of rollout and upgrade.
NOT_SHIPPED = ("shared/upgrade_paths.py",)


def tooling_files() -> list[Path]:
    scripts = ROOT / "scripts"
    runtime = scripts / "neo4j_ops"
    return sorted([scripts / "__init__.py", scripts / "backup.py", scripts / "restore.py",
                   *(runtime / name for name in RUNTIME_SHARED),
                   *(path for package in RUNTIME_PACKAGES for path in (runtime / package).glob("*.py")
                     if path.relative_to(runtime).as_posix() not in NOT_SHIPPED)])


def tooling_archive(extra_files: Mapping[str, str] | None = None) -> bytes:
    """The archive of tooling_files(), plus `extra_files` (archive name → text; a name beside the scripts' own,
    such as "job/neo4j-backup.service"; a .sh is executable). Every entry in name order, same times and owners."""
    entries = {str(path.relative_to(ROOT / "scripts")): (path.read_bytes(), 0o644) for path in tooling_files()}
    for name, text in (extra_files or {}).items():
        if name in entries or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"tooling archive: {name!r} clashes with the scripts or leaves the archive")
        entries[name] = (text.encode(), 0o755 if name.endswith(".sh") else 0o644)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, (data, mode) in sorted(entries.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def tooling_archive_base64(extra_files: Mapping[str, str] | None = None) -> str:
    return base64.b64encode(tooling_archive(extra_files)).decode()


def archive_sha256(archive_base64: str) -> str:
    """The hex sha256 of the archive's bytes, as `sha256sum` prints it on the server (TOOLING_SHA256_TAG)."""
    return hashlib.sha256(base64.b64decode(archive_base64)).hexdigest()
