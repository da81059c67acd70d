"""The dotted module name of a source file of this repository, shared by the import tests
(tests/unit/test_import_direction.py and test_import_cycles.py)."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT


def module_name(path: Path) -> str:
    """`scripts/neo4j_ops/shared/errors.py` → `scripts.neo4j_ops.shared.errors`; a package's `__init__.py` is the
    package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
