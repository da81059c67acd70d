"""Processes on the backup server: neo4j-admin as configured (a wrapper such as runuser, NEO4J_HOME,
NEO4J_CONF), its output's tail on failure, and the process groups it forks, killed with us."""
from __future__ import annotations

import collections
import contextlib
import os
import shlex
import shutil
import signal
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


@dataclass
class AdminTool:
    """`neo4j-admin` as configured: the command (may be a wrapper), NEO4J_HOME and NEO4J_CONF."""
    command: list[str]
    home: Path | None = None
    conf: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. AWS_ENDPOINT_URL_S3 for s3:// paths

    def env(self, conf: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        if self.home:
            env["NEO4J_HOME"] = str(self.home)
        if conf or self.conf:
            env["NEO4J_CONF"] = str(conf or self.conf)
        return env

    def describe(self, args: Sequence[str]) -> str:
        shown = [a if not a.startswith(("--from=", "--to")) or len(a) < 200 else a[:200] + "…" for a in args]
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
        shown = self.describe(args if secret is None else [a.replace(secret, "***") for a in args])
        if log:
            log(f"running {shown}")
        out = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen([*self.command, *args], env=self.env(conf), stdin=subprocess.DEVNULL,
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
        try:
            return subprocess.Popen([*self.command, *args], env=self.env(conf), stdin=subprocess.DEVNULL,
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


def own(path: Path, user: str | None) -> None:
    """chown -R `path` to `user` (the account neo4j-admin runs as), when one is configured."""
    if not user:
        return
    try:
        shutil.chown(path, user, user)
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                shutil.chown(os.path.join(root, name), user, user)
    except (LookupError, OSError) as error:
        raise UsageError(f"cannot give {path} to user {user!r} (--owner): {error}") from None
