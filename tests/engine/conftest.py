"""The engine tests: the project's program under the real Pulumi CLI and engine (tests/support/engine/).
Marked `engine` and `integration` (make engine runs only these; make unit none)."""
from __future__ import annotations

from pathlib import Path

import pytest

ENGINE_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.engine)
            item.add_marker(pytest.mark.integration)
