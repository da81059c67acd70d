"""How the drill stops and starts one Neo4j server: a small Protocol and its two platforms.

    ServerStopper.stop(server) / start(server)   return once the command finished (the process is down / started)
    ServerStopper.describe(server)               what stop and start do, for --dry-run and the report

AWS (SsmStopper): the machines have no SSH; their instance role has AmazonSSMManagedInstanceCore, so each command is
one `ssm.send_command(DocumentName="AWS-RunShellScript")` of `systemctl stop neo4j` / `systemctl start neo4j` (the
neo4j unit setup-neo4j.sh enables), through the restore's SsmShell (backup/remote.py: the instance found by its Name
tag `<stack>-<server>`, polled with get_command_invocation until a terminal status). The operator needs
ssm:SendCommand, ssm:GetCommandInvocation and ec2:DescribeInstances, as for the cluster restore.

Docker (DockerStopper): `docker stop <container>` / `docker start <container>`, the container named as the Docker
adapter names it (`neo4j-<stack>-<server>`: rollout/stack.py SERVER_RESOURCES, checked against the program's plan by
tests/unit/test_rollout_run.py). `docker stop` sends SIGTERM and waits the container's stop timeout (the adapter
sets STOP_SECONDS) before SIGKILL, as systemd does with the unit.
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..backup.remote import RemoteShell
from ..rollout.stack import server_resources
from ..shared.errors import OperationError

STOP, START = "systemctl stop neo4j", "systemctl start neo4j"


class ServerStopper(Protocol):
    def describe(self, server: str) -> str: ...

    def stop(self, server: str) -> None: ...

    def start(self, server: str) -> None: ...


@dataclass
class SsmStopper:
    """ServerStopper over AWS Systems Manager (a RemoteShell: backup/remote.py SsmShell)."""
    shell: RemoteShell
    timeout: float = 300.0

    def describe(self, server: str) -> str:
        return f"`{STOP}` on {server} through AWS Systems Manager (then `{START}`)"

    def _run(self, server: str, command: str) -> None:
        code, out, err = self.shell.run(server, [command], self.timeout)
        if code != 0:
            said = " ".join((err or out or "").split())[-300:]
            raise OperationError(f"{server}: `{command}` through SSM exited {code}: {said or 'no output'}")

    def stop(self, server: str) -> None:
        self._run(server, STOP)

    def start(self, server: str) -> None:
        self._run(server, START)


def container_name(stack: str, server: str) -> str:
    """The Docker adapter's container of `server` in `stack`."""
    return server_resources("docker", stack, server)[0][1]


@dataclass
class DockerStopper:
    """ServerStopper over the local Docker engine's CLI."""
    stack: str
    runner: Callable[..., Any] = subprocess.run
    timeout: float = 300.0

    def describe(self, server: str) -> str:
        name = container_name(self.stack, server)
        return f"`docker stop {name}` (then `docker start {name}`)"

    def _run(self, verb: str, server: str) -> None:
        command = ["docker", verb, container_name(self.stack, server)]
        try:
            done = self.runner(command, capture_output=True, text=True, timeout=self.timeout)
        except FileNotFoundError:
            raise OperationError("docker is not installed (no docker on PATH): the local drill stops a container "
                                 "with it") from None
        except subprocess.TimeoutExpired:
            raise OperationError(f"`{' '.join(command)}` did not finish within {self.timeout:.0f} s") from None
        if done.returncode != 0:
            said = " ".join((done.stderr or done.stdout or "").split())[-300:]
            raise OperationError(f"`{' '.join(command)}` exited {done.returncode}: {said or 'no output'}")

    def stop(self, server: str) -> None:
        self._run("stop", server)

    def start(self, server: str) -> None:
        self._run("start", server)
