"""What the engine tests read of the docker stand-in's daemon: an object's `docker inspect`, a command's output in a
container, a container's health once its check has decided."""
from __future__ import annotations

import json
import time

from tests.support.rehearsal.dockerd import PrivateDockerd


def inspect(dockerd: PrivateDockerd, kind: str, name: str) -> dict | None:
    """`docker <kind> inspect <name>`, None when there is no such object."""
    found = dockerd.docker(kind, "inspect", name, check=False)
    return json.loads(found.stdout)[0] if found.returncode == 0 else None


def in_container(dockerd: PrivateDockerd, name: str, command: str) -> str:
    return dockerd.docker("exec", name, "sh", "-c", command).stdout.strip()


def wait_healthy(dockerd: PrivateDockerd, name: str, timeout: float = 90) -> str | None:
    """The container's health status once it is healthy, or whatever it is when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        state = (inspect(dockerd, "container", name) or {}).get("State", {})
        status = state.get("Health", {}).get("Status")
        if status == "healthy" or time.monotonic() > deadline or not state.get("Running", False):
            return status
        time.sleep(1)
