"""Every scripts/*.py is a thin entry point of one shape (../shared/ARCHITECTURE.md, "Command-line tools"):
a docstring, the repository root put on sys.path, `main` imported from the operator runtime
(scripts/neo4j_ops/), and the `__main__` guard; nothing else. Command logic lives in the package, one
command module per command, where tests import it; the script only makes it runnable as a file.
And each one's --help runs and shows an example.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

RUNTIME = "scripts.neo4j_ops"
# The statements every entry point has, around its docstring and its import of main, as written.
PREAMBLE = """
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
"""
GUARD = """
if __name__ == "__main__":
    sys.exit(main())
"""


def entry_points() -> list[Path]:
    return sorted(path for path in (ROOT / "scripts").glob("*.py") if path.name != "__init__.py")


def _dumps(source: str) -> list[str]:
    return [ast.dump(node) for node in ast.parse(source).body]


def shape_problems(source: str) -> list[str]:
    """What keeps `source` from being the thin entry point: [] when it is one."""
    body = ast.parse(source).body
    preamble, guard = _dumps(PREAMBLE), _dumps(GUARD)
    if len(body) != 1 + len(preamble) + 1 + len(guard):
        return [f"{len(body)} top-level statements; an entry point has {1 + len(preamble) + 1 + len(guard)}: "
                f"docstring, {PREAMBLE.strip()!r}, the import of main, the __main__ guard"]
    problems = []
    docstring = body[0]
    if not (isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
            and isinstance(docstring.value.value, str) and docstring.value.value.strip()):
        problems.append("no docstring first")
    if [ast.dump(node) for node in body[1:1 + len(preamble)]] != preamble:
        problems.append(f"not the preamble {PREAMBLE.strip()!r}")
    main_import = body[1 + len(preamble)]
    if not (isinstance(main_import, ast.ImportFrom) and main_import.level == 0
            and (main_import.module or "").startswith(RUNTIME + ".")
            and len(main_import.names) == 1 and (main_import.names[0].asname or main_import.names[0].name) == "main"):
        problems.append(f"not one import of main from {RUNTIME}.…")
    if [ast.dump(node) for node in body[-len(guard):]] != guard:
        problems.append(f"not the guard {GUARD.strip()!r}")
    return problems


def test_every_script_is_found():
    names = {path.name for path in entry_points()}
    assert {"plan.py", "check.py", "security.py", "config_table.py", "scale.py", "rollout.py"} <= names


@pytest.mark.parametrize("path", entry_points(), ids=lambda path: path.name)
def test_the_script_is_the_thin_entry_point(path):
    assert shape_problems(path.read_text()) == [], f"scripts/{path.name}: move its logic into {RUNTIME}"


@pytest.mark.parametrize("path", entry_points(), ids=lambda path: path.name)
def test_the_script_is_executable_with_a_python3_shebang(path):
    assert path.read_text().startswith("#!/usr/bin/env python3\n") and path.stat().st_mode & 0o111


@pytest.mark.parametrize("path", entry_points(), ids=lambda path: path.name)
def test_help_runs_and_shows_an_example(path):
    # As a user runs it: a file, from another directory (the script finds the repository itself).
    result = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True, timeout=120,
                            cwd=ROOT / "tests")
    assert result.returncode == 0, result.stderr
    assert re.search(r"(?im)^\s*examples?:", result.stdout), result.stdout


SHIM = '''"""Doc."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.backup.commands import backup_main as main

if __name__ == "__main__":
    sys.exit(main())
'''


def test_the_shape_of_a_shim_passes():
    assert shape_problems(SHIM) == []


@pytest.mark.parametrize("source, problem", [
    (SHIM.replace('"""Doc."""\n', "import os\n"), "no docstring first"),
    (SHIM.replace("from scripts.neo4j_ops.backup.commands import backup_main as main",
                  "from components.settings import main"), "not one import of main"),
    (SHIM.replace("backup_main as main", "backup_main as main, restore_main"), "not one import of main"),
    (SHIM.replace(".parent.parent", ".parent"), "not the preamble"),
    (SHIM.replace("sys.exit(main())", "main()"), "not the guard"),
    (SHIM.replace("\nif __name__", "\nPROJECT = 'neo4j-cluster'\n\nif __name__"), "top-level statements"),
    (SHIM.replace("\nif __name__", "\ndef main():\n    return 0\n\nif __name__"), "top-level statements"),
])
def test_a_script_with_more_or_other_than_the_shim_is_named(source, problem):
    assert any(problem in found for found in shape_problems(source))
