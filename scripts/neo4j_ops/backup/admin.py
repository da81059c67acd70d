"""Processes on the backup server: neo4j-admin as configured (a wrapper such as runuser, NEO4J_HOME,
NEO4J_CONF), its output's tail on failure, and the process groups it forks, killed with us."""
from __future__ import annotations

import collections
import contextlib
import os
import shlex
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..shared.errors import BackupError, UsageError


def split_command(text: str, option: str) -> list[str]:
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise UsageError(f"{option}: cannot split {text!r} into words ({error})") from None
    if not words:
        raise UsageError(f"{option}: empty command")
    return words


class StderrTail:
    """Reads a process's stderr in a thread, keeping the last lines (and echoing them when asked)."""

    def __init__(self, stream, echo: Callable[[str], None] | None = None, keep: int = 40):
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self.echo = echo
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.lines.append(line)
                if self.echo:
                    self.echo(line)
        stream.close()

    def text(self) -> str:
        self.thread.join(timeout=5)
        return "\n".join(self.lines)


def die_with_parent() -> None:  # child side of fork: SIGKILL when the backup/restore process dies
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


@dataclass(frozen=True)
class MemoryBounds:
    """Explicit memory of every neo4j-admin process, for a server whose own Neo4j keeps running (the backup
    job passes its host's budget, components/sizing.py admin_budget). Unset: neo4j-admin's own defaults.

    heap      HEAP_SIZE in the environment of every command ("Set JVM maximum heap size during command
              execution", Operations Manual 4.4 and 5.x tools/neo4j-admin/index.adoc)
    off_heap  `backup --pagecache` (4.4 and 5.x/dev: "The size of the page cache to use for the backup
              process"; 4.4's own check runs in that process); `database check --max-off-heap-memory` (5.x/dev,
              default "90%" of free memory); `aggregate-backup` and 4.4's `check-consistency`, which have no
              memory option, read the page cache setting from an `--additional-config` file
    threads   `database check --threads` (5.x/dev, default "The number of CPUs on the machine"); 4.4's
              check has no such option, nor one for off-heap memory
    """
    heap: str | None = None
    off_heap: str | None = None
    threads: int | None = None

    def options(self, args: Sequence[str]) -> tuple[list[str], str | None]:
        """The options `args` gets after its command words, and the --additional-config text it needs."""
        words = tuple(next_words(args))
        given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
        options: list[str] = []
        config = None
        if self.off_heap and words in (("database", "backup"), ("backup",)):
            options.append(f"--pagecache={self.off_heap}")
        if words == ("database", "check"):
            options += [f"--max-off-heap-memory={self.off_heap}"] if self.off_heap else []
            options += [f"--threads={self.threads}"] if self.threads else []
        if self.off_heap and words in (("database", "aggregate-backup"), ("backup", "aggregate")):
            config = f"server.memory.pagecache.size={self.off_heap}\n"
        if self.off_heap and words == ("check-consistency",):
            config = f"dbms.memory.pagecache.size={self.off_heap}\n"
        if config and "--additional-config" in given:
            config = None
        return [o for o in options if o.split("=", 1)[0] not in given], config


def next_words(args: Sequence[str]) -> list[str]:
    """The command words (`database check`, `backup`, `check-consistency`): what comes before the first option."""
    words = []
    for arg in args:
        if arg.startswith("-") or len(words) == 2:
            break
        words.append(arg)
    return words


@dataclass
class AdminTool:
    """`neo4j-admin` as configured: the command (may be a wrapper), NEO4J_HOME and NEO4J_CONF, memory bounds."""
    command: list[str]
    home: Path | None = None
    conf: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. AWS_ENDPOINT_URL_S3 for s3:// paths
    bounds: MemoryBounds = field(default_factory=MemoryBounds)

    def env(self, conf: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        if self.home:
            env["NEO4J_HOME"] = str(self.home)
        if conf or self.conf:
            env["NEO4J_CONF"] = str(conf or self.conf)
        if self.bounds.heap:
            env["HEAP_SIZE"] = self.bounds.heap
        return env

    def bounded(self, args: Sequence[str], config_file: Path | None = None) -> list[str]:
        """`args` with the memory options of its command (MemoryBounds.options) after the command words;
        the --additional-config path is `config_file` (its text written by the caller)."""
        options, config = self.bounds.options(args)
        if config:
            options.append(f"--additional-config={config_file or '<memory bounds>'}")
        at = len(next_words(args))
        return [*args[:at], *options, *args[at:]]

    @contextlib.contextmanager
    def _bounded(self, args: Sequence[str]):
        """The bounded arguments, with the --additional-config file they name for as long as the command runs."""
        _, config = self.bounds.options(args)
        if not config:
            yield self.bounded(args)
            return
        with tempfile.TemporaryDirectory(prefix="neo4j-admin-bounds-") as directory:
            path = Path(directory) / "memory-bounds.conf"
            path.write_text(f"# neo4j-admin beside a running server: its memory bounds\n{config}")
            Path(directory).chmod(0o755)  # read by the user neo4j-admin runs as (runuser)
            path.chmod(0o644)
            yield self.bounded(args, path)

    def describe(self, args: Sequence[str]) -> str:
        shown = [a if not a.startswith(("--from=", "--to")) or len(a) < 200 else a[:200] + "…"
                 for a in self.bounded(args)]
        return "neo4j-admin " + " ".join(shown)

    def run(self, args: Sequence[str], *, conf: Path | None = None, log: Callable[[str], None] | None = None,
            timeout: float | None = None, secret: str | None = None) -> str:
        """Run to completion; BackupError with the output's tail on failure. Returns stdout."""
        code, stdout, errors, shown = self._call(args, conf=conf, log=log, timeout=timeout, secret=secret)
        if code != 0:
            output = "\n".join(filter(None, [stdout.strip(), errors]))
            raise BackupError(f"{shown} failed (exit {code}):\n{indent(last_lines(output, 25))}")
        return stdout

    def call(self, args: Sequence[str], *, conf: Path | None = None, log: Callable[[str], None] | None = None,
             timeout: float | None = None) -> tuple[int, str]:
        """Run to completion whatever its exit status: (exit status, stdout and stderr's tail)."""
        code, stdout, errors, _ = self._call(args, conf=conf, log=log, timeout=timeout)
        return code, "\n".join(filter(None, [stdout.strip(), errors]))

    def _call(self, args: Sequence[str], *, conf: Path | None, log: Callable[[str], None] | None,
              timeout: float | None, secret: str | None = None) -> tuple[int, str, str, str]:
        with self._bounded(args) as bounded:
            return self._call_bounded(args, bounded, conf=conf, log=log, timeout=timeout, secret=secret)

    def _call_bounded(self, args: Sequence[str], bounded: list[str], *, conf: Path | None,
                      log: Callable[[str], None] | None, timeout: float | None,
                      secret: str | None) -> tuple[int, str, str, str]:
        shown = self.describe(args if secret is None else [a.replace(secret, "***") for a in args])
        if log:
            log(f"running {shown}")
        out = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen([*self.command, *bounded], env=self.env(conf), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.PIPE, start_new_session=True,
                                    preexec_fn=die_with_parent)
        except OSError as error:
            out.close()
            raise UsageError(f"cannot run neo4j-admin as {' '.join(self.command)!r}: {error}; "
                             f"set --neo4j-admin") from None
        tail = StderrTail(proc.stderr, echo=(lambda line: log(f"  {line}")) if log else None)
        with out:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(proc)
                raise BackupError(f"{shown} did not finish within {timeout:.0f}s") from None
            except BaseException:
                kill_group(proc)
                raise
            out.seek(0)
            stdout = out.read().decode("utf-8", "replace")
        return proc.returncode, stdout, tail.text(), shown

    def popen(self, args: Sequence[str], *, conf: Path | None = None) -> subprocess.Popen:
        """A streaming command (the dump to stdout): bounded by HEAP_SIZE and options, never by a config file."""
        if self.bounds.options(args)[1]:
            raise ValueError(f"{self.describe(args)}: a streaming command cannot be given an --additional-config")
        try:
            return subprocess.Popen([*self.command, *self.bounded(args)], env=self.env(conf), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                    preexec_fn=die_with_parent)
        except OSError as error:
            raise UsageError(f"cannot run neo4j-admin as {' '.join(self.command)!r}: {error}; "
                             f"set --neo4j-admin") from None


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started in its own session, and whatever it forked (neo4j-admin forks a JVM)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=30)


def last_lines(text: str, count: int) -> str:
    return "\n".join(text.strip().splitlines()[-count:]) or "(no output)"


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


# Root works in folders the neo4j user can write (the staging directory on the data volume): every path below
# one is entered without following a link (O_NOFOLLOW, each folder opened relative to the one before), so a link
# planted there is refused instead of handing root's chown, mkdir or write to a file of the planter's choice.
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _ids(user: str) -> tuple[int, int]:
    import grp
    import pwd
    return pwd.getpwnam(user).pw_uid, grp.getgrnam(user).gr_gid


def _own_fd(fd: int, uid: int, gid: int) -> None:
    os.chown(fd, uid, gid)
    # fwalk never descends through a link; chown with follow_symlinks=False changes a link, not its target.
    for _, dirs, files, dir_fd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
        for name in dirs + files:
            os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


def own(path: Path, user: str | None) -> None:
    """chown -R the folder `path` to `user` (the account neo4j-admin runs as), when one is configured, without
    following links: a link in its place is refused, links inside it change owner themselves, never their target."""
    if not user:
        return
    try:
        uid, gid = _ids(user)
        fd = os.open(path, _DIRECTORY)
        try:
            _own_fd(fd, uid, gid)
        finally:
            os.close(fd)
    except (LookupError, OSError) as error:
        raise UsageError(f"cannot give {path} to user {user!r} (--owner): {error}") from None


def _enter(under: Path, parts: Sequence[str]) -> int:
    """An open descriptor of under/parts…, each folder made when missing and entered without following a link
    (`under` too is made when missing, and refused when it is a link)."""
    under.mkdir(parents=True, exist_ok=True)
    fd = os.open(under, _DIRECTORY)
    try:
        for name in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, dir_fd=fd)
            inner = os.open(name, _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_below(path: Path, flags: int, *, under: Path) -> int:
    """A descriptor of the existing file `path` below `under`, opened with `flags`: neither `under`, nor a folder on
    the way, nor the file itself is followed when it is a link (OSError then)."""
    parts = path.relative_to(under).parts
    fd = os.open(under, _DIRECTORY)
    try:
        for name in parts[:-1]:
            inner = os.open(name, _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def read_tail(path: Path, *, under: Path, limit: int = 64 * 1024) -> str | None:
    """The last `limit` bytes of the regular file `path` below `under`, read without following a link on the way
    and without blocking on a planted pipe; None when it is missing or is anything but a regular file."""
    try:
        fd = open_below(path, os.O_RDONLY | os.O_NONBLOCK, under=under)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            return None
        file.seek(max(0, status.st_size - limit))
        return file.read(limit).decode(errors="replace")


def fresh_dir(path: Path, user: str | None, *, under: Path) -> Path:
    """Make the folder `path` below `under` anew and give it to `user`: the folders between are entered without
    following a link, and a `path` that exists already (a folder, a file or a link) is refused, never reused."""
    parts = path.relative_to(under).parts
    try:
        parent = _enter(under, parts[:-1])
        try:
            os.mkdir(parts[-1], dir_fd=parent)
            fd = os.open(parts[-1], _DIRECTORY, dir_fd=parent)
        finally:
            os.close(parent)
        try:
            if user:
                uid, gid = _ids(user)
                os.chown(fd, uid, gid)
        finally:
            os.close(fd)
    except FileExistsError:
        raise UsageError(f"{path} exists already; a backup run makes its folders anew and uses none it did not "
                         f"make: remove it (it is not a backup) and run again") from None
    except (LookupError, OSError) as error:
        raise UsageError(f"cannot make {path} below {under} (a link on the way is refused): {error}") from None
    return path


def write_new(path: Path, text: str, *, under: Path) -> None:
    """Write a new file `path` below `under` (root's own, mode 0644): no link on the way is followed and an
    existing file or link at `path` is refused."""
    parts = path.relative_to(under).parts
    try:
        parent = _enter(under, parts[:-1])
        try:
            fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                         dir_fd=parent)
        finally:
            os.close(parent)
        with os.fdopen(fd, "w") as out:
            out.write(text)
    except OSError as error:
        raise UsageError(f"cannot write {path} anew below {under} (a link or file in the way is refused): "
                         f"{error}") from None
