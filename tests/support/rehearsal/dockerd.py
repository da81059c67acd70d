"""A private dockerd for the rehearsal, started and stopped by whoever uses it (a test session, `make rehearse`).

Debian's docker.io, with nothing of the host's networking touched (--iptables=false --ip-forward=false
--bridge=none: machines run with --network none), vfs storage (works on any filesystem, no overlay mounts), its
images and containers under the tests' cache (--data-root, kept between runs so the base image is imported once),
and its sockets, pid file and runtime state in a temporary directory of its own: it never meets the host's
dockerd if one runs. No registry is reachable: images only come from `docker import`.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.neo4j_dist import cache_root

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
LOCK_WAIT_SECONDS = 1200  # a cold rehearsal (base image, package) takes a few minutes; a hung one, far longer


@dataclass(frozen=True)
class PrivateDockerd:
    socket: Path
    data_root: Path
    exec_root: Path
    pid: int
    client: str       # the docker CLI
    config_dir: Path  # the CLI's own config directory (none of the user's contexts or credentials)

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.config_dir)}

    def docker(self, *args: str, check: bool = True, timeout: float = 120,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Runs the docker CLI against this daemon; check: a non-zero exit raises with docker's own message."""
        result = subprocess.run([self.client, *args], env=self.env(), capture_output=True, text=True,
                                timeout=timeout, input=input, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"docker {args[0]} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def in_network(self, *command: str) -> list[str]:
        """`command` run in the daemon's network namespace (published ports listen on its loopback)."""
        return [_tool("nsenter"), "--net", "--target", str(self.pid), *command]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"rehearsal: {name} is not installed: run `make tools` (scripts/install-tools.sh)")
    return path


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    # One dockerd per data root: a second one (a test session beside `make rehearse`) would corrupt it. The
    # second run waits for the first (a rehearsal takes about a minute) rather than fail beside it.
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        deadline, told = time.monotonic() + LOCK_WAIT_SECONDS, False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"rehearsal: another private dockerd has used {lock_file.parent} for over "
                                       f"{LOCK_WAIT_SECONDS}s (lock {lock_file}); wait for that run to end") from None
                if not told:
                    print(f"rehearsal: waiting for another run's private dockerd ({lock_file})", file=sys.stderr)
                    told = True
                time.sleep(2)
        yield


@contextlib.contextmanager
def private_dockerd(data_root: Path | None = None, *, own_network: bool = False) -> Iterator[PrivateDockerd]:
    """A running dockerd of our own until the block ends (then stopped, with its temporary directory).

    own_network: the daemon runs in a network namespace of its own (unshare --net; only its loopback, brought up),
    so the bridges of the networks it creates, its containers' addresses and the ports it publishes (docker-proxy
    on that loopback) live there and nowhere else; PrivateDockerd.in_network runs a client there."""
    dockerd, client = _tool("dockerd"), _tool("docker")
    data_root = data_root or cache_root() / "rehearsal" / "docker"
    with _exclusive(data_root.parent / "dockerd.lock"), tempfile.TemporaryDirectory(prefix="rehearsal-") as tmp:
        run = Path(tmp)
        socket, exec_root, pidfile, log = run / "docker.sock", run / "exec", run / "docker.pid", run / "dockerd.log"
        (run / "config").mkdir()
        # setpriv (util-linux) sets the parent-death signal and execs dockerd: no Python code runs between fork and
        # exec, which a process that already serves gRPC (the engine tests' stand-in providers) cannot afford:
        # gRPC's fork handlers abort such a child.
        namespace = ([_tool("unshare"), "--net", "--", "sh", "-c", f'{_tool("ip")} link set lo up && exec "$@"',
                      "dockerd-namespace"] if own_network else [])
        args = [*namespace, _tool("setpriv"), "--pdeathsig", "TERM",
                dockerd, "--storage-driver=vfs", "--iptables=false", "--ip-forward=false", "--bridge=none",
                f"--data-root={data_root}", f"--exec-root={exec_root}", f"--pidfile={pidfile}",
                "-H", f"unix://{socket}"]
        with log.open("w") as out:
            # Its own session: a Ctrl-C of the caller reaches it through the stop below, not twice. Should the
            # caller die without that stop (SIGKILL, SIGTERM), the kernel sends dockerd SIGTERM (PDEATHSIG), which
            # stops it and its containerd: no daemon outlives the run to meet the next one on the same data root.
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        daemon = PrivateDockerd(socket, data_root, exec_root, process.pid, client, run / "config")
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while daemon.docker("version", check=False, timeout=10).returncode != 0:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rehearsal: dockerd did not answer on {socket} within "
                                       f"{START_TIMEOUT_SECONDS}s (exit {process.poll()}): "
                                       f"{log.read_text()[-2000:]}")
                time.sleep(0.3)
            # The data root is ours alone: containers, volumes and networks an interrupted run left behind go.
            stale = daemon.docker("ps", "--all", "--quiet").stdout.split()
            if stale:
                daemon.docker("rm", "--force", *stale, timeout=120)
            volumes = daemon.docker("volume", "ls", "--quiet").stdout.split()
            if volumes:
                daemon.docker("volume", "rm", "--force", *volumes, timeout=120)
            daemon.docker("network", "prune", "--force", timeout=60)
            yield daemon
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
