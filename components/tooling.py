"""The backup tooling (scripts/backup.py, scripts/restore.py, scripts/neo4j_ops/backup/) as one archive.

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


def tooling_files() -> list[Path]:
    scripts = ROOT / "scripts"
    runtime = scripts / "neo4j_ops"
    return sorted([scripts / "__init__.py", scripts / "backup.py", scripts / "restore.py", runtime / "__init__.py",
                   runtime / "versions.py", *(runtime / "backup").glob("*.py")])


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
