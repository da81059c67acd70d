"""Run a real Neo4j Community 5.26 LTS from Maven Central artifacts (tests only).

Pure stdlib. No tarball is downloaded: the runtime classpath of
``org.neo4j:neo4j:<version>`` is resolved with Maven (``mvn``) into the local
Maven repository (``~/.m2``), and the two entry points of the distribution are
launched directly with ``java -cp``:

* ``org.neo4j.server.startup.Neo4jAdminCommand`` -- ``neo4j-admin``. For admin
  commands it forks a second JVM (same ``java`` binary, classpath taken from
  ``$NEO4J_HOME/lib/*`` when that dir is non-empty, else from this JVM's
  ``java.class.path``), so ``NEO4J_HOME/lib`` must NOT exist or be empty.
* ``org.neo4j.server.CommunityEntryPoint --home-dir H --config-dir C`` -- the
  server process itself (what ``neo4j console`` would fork). Because we skip
  the ``neo4j`` bootloader, JVM options that the bootloader would normally derive
  from neo4j.conf (``server.memory.heap.*`` -> -Xms/-Xmx and
  ``server.jvm.additional``) are derived here by :class:`Neo4jServer`.

Requirements: ``java`` 17 or 21 (``$JAVA_HOME/bin/java`` or on ``PATH``),
``mvn`` on ``PATH`` (or ``$MVN``) with access to Maven Central, and the
``neo4j`` Python driver for :meth:`Neo4jServer.wait_for_bolt`.

Environment knobs:
    NEO4J_DIST_CACHE_DIR  cache root (default ``$XDG_CACHE_HOME/neo4j-cluster``
                          or ``~/.cache/neo4j-cluster``)
    MVN                   maven executable (default ``mvn``)
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import os
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
from pathlib import Path

__all__ = [
    "NEO4J_VERSION",
    "Neo4jDistError",
    "Neo4jServer",
    "cache_dir",
    "free_port",
    "java_executable",
    "make_home",
    "memory_recommendation",
    "neo4j_classpath",
    "parse_conf",
    "parse_size",
    "run_neo4j_admin",
    "standalone_conf",
]

#: Newest 5.26 LTS patch release on Maven Central at the time of writing.
NEO4J_VERSION = "5.26.30"

ADMIN_MAIN_CLASS = "org.neo4j.server.startup.Neo4jAdminCommand"
SERVER_MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"

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


def cache_dir(version: str = NEO4J_VERSION) -> Path:
    """Per-version cache directory (holds pom.xml and classpath.txt)."""
    root = os.environ.get("NEO4J_DIST_CACHE_DIR")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "neo4j-cluster"
    return base / version


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


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(os.path.join(java_home, "bin", "java"), os.X_OK):
        return os.path.join(java_home, "bin", "java")
    java = shutil.which("java")
    if not java:
        raise Neo4jDistError("'java' not found (set JAVA_HOME or put java 17/21 on PATH)")
    return java


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


def _clean_env(home: Path, conf_dir: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    e = dict(os.environ)
    for k in _LEAKY_ENV:
        e.pop(k, None)
    if env:
        e.update(env)
    e["NEO4J_HOME"] = str(home)
    e["NEO4J_CONF"] = str(conf_dir)
    return e


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
) -> subprocess.CompletedProcess:
    """Run ``neo4j-admin <args>`` (e.g. ``["dbms", "set-initial-password", "pw"]``).

    Equivalent of ``NEO4J_HOME=home NEO4J_CONF=conf_dir bin/neo4j-admin args``;
    ``conf_dir`` defaults to ``home/conf``. stdout/stderr are captured as text
    (the forked admin JVM inherits our pipes). With ``check=True`` a non-zero
    exit raises :class:`Neo4jDistError` including the output.
    """
    home = Path(home).absolute()
    conf = Path(conf_dir).absolute() if conf_dir is not None else home / "conf"
    cmd = [java_executable(), "-cp", neo4j_classpath(version), ADMIN_MAIN_CLASS, *map(str, args)]
    proc = subprocess.run(
        cmd,
        env=_clean_env(home, conf, env),
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
}


def memory_recommendation(
    memory_gib: int | float | str,
    *,
    version: str = NEO4J_VERSION,
    home: str | os.PathLike | None = None,
) -> dict:
    """Run ``neo4j-admin server memory-recommendation --memory=<N>g`` and parse it.

    ``memory_gib``: a number of GiB (``8`` -> ``--memory=8g``) or a raw Neo4j
    size string (``"512m"``). A throw-away NEO4J_HOME with an empty neo4j.conf
    is used unless ``home`` is given (the command requires conf/neo4j.conf).

    Returns ``{"memory": arg, "heap_initial", "heap_max", "pagecache",
    "os_reserve": bytes, "heap_initial_str", "heap_max_str", "pagecache_str",
    "os_reserve_str": exactly as printed, "raw": full stdout}`` (plus
    ``tx_off_heap``/``tx_off_heap_str`` if printed, which only happens with
    ``db.tx_state.memory_allocation=OFF_HEAP``).
    """
    if isinstance(memory_gib, str):
        mem_arg = memory_gib
    elif isinstance(memory_gib, float) and not memory_gib.is_integer():
        mem_arg = f"{int(round(memory_gib * 1024))}m"
    else:
        mem_arg = f"{int(memory_gib)}g"

    with contextlib.ExitStack() as stack:
        if home is None:
            home = make_home(stack.enter_context(tempfile.TemporaryDirectory(prefix="neo4j-memrec-")))
        proc = run_neo4j_admin(
            ["server", "memory-recommendation", f"--memory={mem_arg}"], home, version=version, check=True
        )
    text = proc.stdout
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
        raise Neo4jDistError(f"could not parse {missing} from memory-recommendation output:\n{text}\n{proc.stderr}")
    return result


# --------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------

_handed_out_ports: set[int] = set()
_ports_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host``; never returns the same port twice per process."""
    with _ports_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
            if port not in _handed_out_ports:
                _handed_out_ports.add(port)
                return port
    raise Neo4jDistError("could not find a free port")


def standalone_conf(bolt_port: int, http_port: int, password_auth: bool = True) -> str:
    """A small single-instance neo4j.conf for tests of this module (loopback only)."""
    return "\n".join(
        [
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{bolt_port}",
            f"server.bolt.advertised_address=127.0.0.1:{bolt_port}",
            "server.http.enabled=true",
            f"server.http.listen_address=127.0.0.1:{http_port}",
            f"server.http.advertised_address=127.0.0.1:{http_port}",
            "server.https.enabled=false",
            f"dbms.security.auth_enabled={'true' if password_auth else 'false'}",
            "server.memory.heap.initial_size=256m",
            "server.memory.heap.max_size=512m",
            "server.memory.pagecache.size=64m",
            "db.tx_log.rotation.retention_policy=1 files",
            "dbms.usage_report.enabled=false",
            "",
        ]
    )


# Bolt's netty event loops otherwise use a 5 s quiet period + up to 15 s timeout on
# shutdown (twice), which makes every stop() take ~10 s.
FAST_SHUTDOWN_OVERRIDES = {
    "internal.dbms.bolt.netty_server_shutdown_quiet_period": "0",
    "internal.dbms.bolt.netty_server_shutdown_timeout": "5s",
}

_live_servers: set[Neo4jServer] = set()


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
    """One Neo4j Community server JVM (``CommunityEntryPoint``) on a prepared NEO4J_HOME.

    Typical use::

        home = make_home(tmp_path / "n1")
        bolt, http = free_port(), free_port()
        (home / "conf" / "neo4j.conf").write_text(standalone_conf(bolt, http, True))
        with Neo4jServer(home, initial_password="s3cretpassw0rd") as srv:
            srv.wait_for_bolt(120)
            with srv.driver() as d: d.execute_query("RETURN 1")

    Parameters:
        home: NEO4J_HOME (see :func:`make_home`).
        conf_dir: directory holding ``neo4j.conf`` (default ``home/conf``).
        initial_password: if given, ``neo4j-admin dbms set-initial-password`` is run
            before the first start (needs >= 8 chars by default) and used as auth.
        auth: ``(user, password)`` for :meth:`wait_for_bolt`/:meth:`driver`;
            default ``("neo4j", initial_password)`` or no auth.
        bolt_port / http_port: default: parsed from the (overridden) conf's
            ``server.bolt.listen_address`` / ``server.http.listen_address``.
        config_overrides: extra ``-c key=value`` settings (applied after neo4j.conf).
        fast_shutdown: add :data:`FAST_SHUTDOWN_OVERRIDES` (stop takes ~1 s, not ~10 s).
        heap: ``"512m"`` -> -Xms/-Xmx; default from ``server.memory.heap.*`` in the
            conf, or 512m max if the conf sets none.
        jvm_args: extra JVM args, appended after those from the conf.
        use_conf_jvm_additional: also pass the conf's ``server.jvm.additional`` lines.
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
        self.config_overrides = dict(FAST_SHUTDOWN_OVERRIDES if fast_shutdown else {})
        self.config_overrides.update(config_overrides or {})
        self.heap = heap
        self.jvm_args = list(jvm_args)
        self.use_conf_jvm_additional = use_conf_jvm_additional
        self.version = version
        self.env = dict(env or {})
        self.die_with_parent = die_with_parent
        self.host = host
        self.driver_options = dict(driver_options or {})
        self._bolt_port = bolt_port
        self._http_port = http_port
        self.process: subprocess.Popen | None = None
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
            self._bolt_port = self._port_of(self._effective_conf().get("server.bolt.listen_address"), 7687)
        return self._bolt_port

    @property
    def http_port(self) -> int:
        if self._http_port is None:
            self._http_port = self._port_of(self._effective_conf().get("server.http.listen_address"), 7474)
        return self._http_port

    @property
    def bolt_uri(self) -> str:
        return f"bolt://{self.host}:{self.bolt_port}"

    @property
    def logs_dir(self) -> Path:
        conf = self._effective_conf()
        d = conf.get("server.directories.logs")
        return (self.home / d) if d else self.home / "logs"

    def java_command(self) -> list[str]:
        conf = self._effective_conf()
        opts: list[str] = []
        if self.use_conf_jvm_additional:
            opts += list(conf.get("server.jvm.additional", []))
        opts.append("-Dfile.encoding=UTF-8")
        if self.heap:
            opts += [f"-Xms{self.heap}", f"-Xmx{self.heap}"]
        else:
            xms = conf.get("server.memory.heap.initial_size")
            xmx = conf.get("server.memory.heap.max_size")
            if xms:
                opts.append(f"-Xms{_jvm_size(xms)}")
            opts.append(f"-Xmx{_jvm_size(xmx)}" if xmx else "-Xmx512m")
        opts += self.jvm_args
        cmd = [java_executable(), "-cp", neo4j_classpath(self.version), *opts, SERVER_MAIN_CLASS]
        cmd += ["--home-dir", str(self.home), "--config-dir", str(self.conf_dir)]
        for k, v in self.config_overrides.items():
            cmd += ["-c", f"{k}={v}"]
        return cmd

    # -- lifecycle -----------------------------------------------------
    def set_initial_password(self, password: str) -> None:
        run_neo4j_admin(
            ["dbms", "set-initial-password", password],
            self.home,
            self.conf_dir,
            version=self.version,
            env=self.env,
            check=True,
        )

    def start(self) -> Neo4jServer:
        if self.process is not None and self.process.poll() is None:
            raise Neo4jDistError("server already running")
        if self.initial_password:
            self.set_initial_password(self.initial_password)
        cmd = self.java_command()
        self.console_log = self.logs_dir / "console.log"
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        self._console = open(self.console_log, "ab")
        try:
            self.process = subprocess.Popen(
                cmd,
                env=_clean_env(self.home, self.conf_dir, self.env),
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
        """Block until Bolt accepts connections *and* ``RETURN 1`` succeeds.

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
        return f"<Neo4jServer {self.home} bolt={self._bolt_port} {state}>"
