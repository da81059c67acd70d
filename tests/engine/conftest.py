"""The engine tests: the project's program under the real Pulumi CLI and engine (tests/support/engine/).
Marked `engine` and `integration` (make engine runs only these; make unit none)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine.stack import ENGINE_LINES, Deployed, deployed_once
from tests.support.engine.stack_secrets import SECRETS
from tests.support.engine_report import KEY as ENGINE_OUTPUT
from tests.support.neo4j_dist import cache_root
from tests.support.rehearsal.dockerd import PrivateDockerd, private_dockerd

ENGINE_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.engine)
            item.add_marker(pytest.mark.integration)


def run_directory(tmp_path_factory) -> Path:
    """A directory of this run that every pytest-xdist worker sees: the parent of the workers' own base
    directories (popen-gw0, ...), or the base directory itself without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def deployed_dev(tmp_path_factory) -> Deployed:
    """dev after its first `up`, made once per run (tests/support/engine/stack.py deployed_once)."""
    return deployed_once("dev", run_directory(tmp_path_factory), secrets=SECRETS["dev"])


@pytest.fixture(scope="module")
def dockerd() -> Iterator[PrivateDockerd]:
    """A private dockerd of the engine tests' own (its data root apart from the boot rehearsal's: their images
    never meet, and neither waits for the other's daemon), in a network namespace of its own: the networks' bridges,
    the containers' addresses and the published ports are there, not in the machine's namespace. One daemon at a
    time uses the data root (a lock): the local builds made in it stay for the next run."""
    with private_dockerd(cache_root() / "engine" / "docker", own_network=True) as daemon:
        yield daemon


@pytest.fixture(autouse=True)
def engine_log(request) -> Iterator[None]:
    """Attaches the engine output printed since the last test (its module fixtures' included) to this test's
    teardown report: the run's summary prints it (tests/support/engine_report.py)."""
    yield
    if ENGINE_LINES:
        request.node.user_properties.append((ENGINE_OUTPUT, list(ENGINE_LINES)))
        ENGINE_LINES.clear()
