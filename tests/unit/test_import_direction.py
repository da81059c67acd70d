"""Imports run one way (../shared/ARCHITECTURE.md, "Imports run one way"):

- components/ (pure core and adapters) imports from scripts/ only the runtime's shared part,
  scripts/neo4j_ops/shared/;
- that shared part imports nothing of components/ nor of the rest of the runtime: the standard library
  and itself only;
- the runtime may import the core.

Every import statement counts, also one inside a function (ast.walk), and relative imports are resolved
against the module's package before they are judged.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.module_names import module_name

SHARED = "scripts.neo4j_ops.shared"


def imports_of(source: str, name: str, is_package: bool) -> set[str]:
    """Absolute names of every module `source` (the module `name`) imports."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base)
                module = f"{prefix}.{node.module}" if node.module else prefix
                # `from . import x` imports the submodule x
                found |= {f"{module}.{alias.name}" for alias in node.names} if not node.module else {module}
            else:
                found.add(node.module)
    return found


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imports_of_file(path: Path) -> set[str]:
    return imports_of(path.read_text(), module_name(path), path.name == "__init__.py")


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_relative_imports_resolve_against_the_package():
    assert imports_of("from ..shared.errors import X", "scripts.neo4j_ops.backup.s3", False) == \
        {"scripts.neo4j_ops.shared.errors"}
    assert imports_of("from . import queries as q", "scripts.neo4j_ops.checks", True) == \
        {"scripts.neo4j_ops.checks.queries"}
    assert imports_of("def f():\n    from .layout import x\n", "scripts.neo4j_ops.backup.make", False) == \
        {"scripts.neo4j_ops.backup.layout"}


def core_offences(names: set[str]) -> set[str]:
    return {name for name in names if under(name, "scripts") and not under(name, SHARED)}


def shared_offences(names: set[str]) -> set[str]:
    return {name for name in names
            if not under(name, SHARED) and name.split(".")[0] not in sys.stdlib_module_names and name != "__future__"}


def test_components_import_only_the_shared_part_of_the_runtime():
    offences = {module_name(path): sorted(core_offences(imports_of_file(path))) for path in python_files("components")}
    assert {name: found for name, found in offences.items() if found} == {}


def test_the_shared_part_imports_only_the_standard_library_and_itself():
    files = python_files("scripts/neo4j_ops/shared")
    assert {path.stem for path in files} >= {"__init__", "versions", "errors"}
    offences = {module_name(path): sorted(shared_offences(imports_of_file(path))) for path in files}
    assert {name: found for name, found in offences.items() if found} == {}


def test_the_main_program_imports_no_operator_code():
    assert not {name for name in imports_of_file(ROOT / "__main__.py") if under(name, "scripts")}


@pytest.mark.parametrize("source, module, rule", [
    ("from scripts.neo4j_ops.backup.layout import object_key", "components.aws.backup_store", core_offences),
    ("def f():\n    from scripts.neo4j_ops import bolt\n", "components.render", core_offences),
    ("from components.settings import NAMESPACE", "scripts.neo4j_ops.shared.versions", shared_offences),
    ("from ..bolt import Client", "scripts.neo4j_ops.shared.errors", shared_offences),
    ("import yaml", "scripts.neo4j_ops.shared.versions", shared_offences),
])
def test_the_rules_catch_an_offending_import(source, module, rule):
    assert rule(imports_of(source, module, is_package=False))


@pytest.mark.parametrize("source, module, rule", [
    ("from scripts.neo4j_ops.shared.versions import line_of", "components.render", core_offences),
    ("from .errors import UsageError\nimport re", "scripts.neo4j_ops.shared.versions", shared_offences),
])
def test_the_rules_let_an_allowed_import_pass(source, module, rule):
    assert not rule(imports_of(source, module, is_package=False))


# --- the runtime reaches the adapters only through their packages ---------------------------------------------

ADAPTERS = ("components.aws", "components.docker", "components.program")
# components.program.recording runs the program under the recording mocks: that is the offline plan's whole job
# (scripts/neo4j_ops/plan/document.py), not an adapter's internals, so the plan imports it by name.
ADAPTER_MODULES_ALLOWED = {"components.program.recording"}


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def adapter_offences(source: str) -> set[str]:
    """Modules inside an adapter package that `source` names (`from components.aws import machine` too)."""
    named = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            named.add(node.module)
            named |= {f"{node.module}.{alias.name}" for alias in node.names
                      if is_module(f"{node.module}.{alias.name}")}
    return {name for name in named if name not in ADAPTER_MODULES_ALLOWED
            and any(under(name, adapter) and name != adapter for adapter in ADAPTERS)}


def test_the_runtime_reaches_the_adapters_only_through_their_packages():
    offences = {module_name(path): sorted(adapter_offences(path.read_text())) for path in python_files("scripts")}
    assert {name: found for name, found in offences.items() if found} == {}


@pytest.mark.parametrize("source", [
    "from components.aws.machine import HELD_BACK_ON_SERVERS",
    "def f():\n    from components.docker import servers\n",
    "import components.aws.backup_store",
    "from components.program.tls import ClusterCertificates",
])
def test_an_adapter_module_named_from_the_runtime_is_caught(source):
    assert adapter_offences(source)


@pytest.mark.parametrize("source", [
    "from components.aws import HELD_BACK_ON_SERVERS, backup_copies",
    "import components.docker as adapter",
    "from components.program.recording import run_program",
    "from components.settings import load_settings",
])
def test_the_adapter_packages_and_the_recording_mocks_pass(source):
    assert not adapter_offences(source)
