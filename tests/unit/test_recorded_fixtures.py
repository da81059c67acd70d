"""The derived Enterprise fixtures (tests/fixtures/enterprise/, README.md there) are exactly what their derive.py
writes: each directory's generator is `render() -> {file name: text}`, and a file edited by hand, or a generator
changed without running it, fails here."""
from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import FIXTURES

GENERATORS = ["enterprise", "enterprise/cluster-restore", "enterprise/scaling", "enterprise/databases"]


@pytest.mark.parametrize("directory", GENERATORS)
def test_the_fixtures_are_what_their_derive_py_writes(directory):
    script = FIXTURES / directory / "derive.py"
    spec = importlib.util.spec_from_file_location(f"derive_{directory.replace('/', '_').replace('-', '_')}", script)
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    written = derive.render()
    assert written, f"{script} writes nothing"
    for name, text in written.items():
        assert (script.parent / name).read_text() == text, f"{name} is stale: run python {script}"
