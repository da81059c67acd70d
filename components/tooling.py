"""The backup tooling (scripts/backup.py, scripts/restore.py, the operator runtime's backup part) as one archive.

The backup server's timer runs these scripts; at 100 KB they do not fit EC2's 16 KB user data, so
the AWS adapter stores the archive in the backup bucket and setup-neo4j.sh fetches it at boot. The
archive is byte-for-byte reproducible (sorted names, fixed times and owners): an unchanged tree
gives an unchanged object, and `pulumi preview` shows no change.
"""
from __future__ import annotations

import base64
import gzip
import io
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLING_KEY = "tooling/neo4j-cluster-backup-tools.tar.gz"
# Where the archive unpacks on the backup server (neo4j-backup.sh looks there).
TOOLING_DIR = "/usr/local/lib/neo4j-cluster/scripts"


# What backup.py and restore.py import of the operator runtime (scripts/neo4j_ops/): its backup part and
# the shared pieces under it, nothing of check, security or diagnose. tests/unit/test_tooling.py runs
# the unpacked archive alone, with only boto3 and the neo4j driver, and compares it with what it imports.
RUNTIME_SHARED = ("__init__.py", "cli.py", "bolt.py", "queries.py", "facts.py")
# Packages shipped whole: the part components/ shares with the runtime, and the backup part.
RUNTIME_PACKAGES = ("shared", "backup")


def tooling_files() -> list[Path]:
    scripts = ROOT / "scripts"
    runtime = scripts / "neo4j_ops"
    return sorted([scripts / "__init__.py", scripts / "backup.py", scripts / "restore.py",
                   *(runtime / name for name in RUNTIME_SHARED),
                   *(path for package in RUNTIME_PACKAGES for path in (runtime / package).glob("*.py"))])


def tooling_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in tooling_files():
            data = path.read_bytes()
            info = tarfile.TarInfo(str(path.relative_to(ROOT / "scripts")))
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def tooling_archive_base64() -> str:
    return base64.b64encode(tooling_archive()).decode()
