"""Everything left of the adapters is plain Python: no module of the core imports Pulumi. The core is
components/*.py and every module of its subpackages (components/monitoring/); Pulumi lives in the
adapters components/aws/, components/docker/ and components/program/ only (README, "Architecture").
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

COMPONENTS = ROOT / "components"
ADAPTERS = ("aws", "docker", "program")


def core_modules() -> list[str]:
    """Names under `components.`: "settings", and for a core subpackage "monitoring", "monitoring.alerts"."""
    modules = [path.stem for path in COMPONENTS.glob("*.py") if path.stem != "__init__"]
    for package in sorted(COMPONENTS.iterdir()):
        if (package / "__init__.py").is_file() and package.name not in ADAPTERS:
            modules += [package.name if path.stem == "__init__" else f"{package.name}.{path.stem}"
                        for path in package.glob("*.py")]
    return sorted(modules)


def core_path(module: str) -> Path:
    path = COMPONENTS.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


CORE = core_modules()
# Pure helpers inside the adapters (their packages import Pulumi, these files do not).
ADAPTER_PURE = ("aws/user_data.py", "aws/secret_names.py", "docker/layout.py", "docker/images.py")

BLOCKED_IMPORT = """
import importlib, json, sys

class NoPulumi:
    def find_spec(self, name, path=None, target=None):
        if name == "pulumi" or name.startswith(("pulumi.", "pulumi_")):
            raise ImportError(f"{name} imported")
        return None

sys.meta_path.insert(0, NoPulumi())
sys.path.insert(0, sys.argv[1])
failed = {}
for module in json.loads(sys.argv[2]):
    try:
        importlib.import_module(f"components.{module}")
    except ImportError as error:
        failed[module] = str(error)
print(json.dumps(failed))
"""


def imported_names(path: Path) -> set[str]:
    return names_imported_by(path.read_text(), path.parent.relative_to(ROOT).parts)


def names_imported_by(source: str, package: tuple[str, ...]) -> set[str]:
    """Absolute names; a relative import is resolved against the file's package (`from ..aws import x`
    in components/monitoring/ is components.aws)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(package[:len(package) - node.level + 1])
            names.add(f"{base}.{node.module}" if node.module else base)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_core_is_the_expected_set_of_modules():
    # A new core module is fine; this list only makes the set the next test covers visible.
    assert {"outputs", "ports", "render", "settings", "sizing", "topology", "monitoring"} <= set(CORE)
    assert {"monitoring.alerts", "monitoring.dashboard", "monitoring.metrics", "monitoring.scrape"} <= set(CORE)
    assert not {"tls", "stack_config", "recording", "secrets"} & set(CORE)
    assert not [module for module in CORE if module.split(".")[0] in ADAPTERS]


def test_a_relative_import_in_a_core_subpackage_is_judged_by_the_module_it_names():
    source = "from ..aws import network\nfrom .queries import RATE_WINDOW\nfrom . import alerts\n"
    assert names_imported_by(source, ("components", "monitoring")) == \
        {"components.aws", "components.monitoring.queries", "components.monitoring"}


def test_every_core_module_imports_with_pulumi_unimportable():
    result = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT, str(ROOT), json.dumps(CORE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}


def test_the_blocker_does_stop_a_module_that_imports_pulumi():
    result = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT, str(ROOT), json.dumps(["program.tls"])],
                            capture_output=True, text=True, timeout=120)
    assert "program.tls" in json.loads(result.stdout)


def test_no_core_module_or_pure_adapter_helper_names_pulumi_even_in_a_function():
    paths = [core_path(module) for module in CORE] + [COMPONENTS / path for path in ADAPTER_PURE]
    offenders = {path.relative_to(ROOT).as_posix(): sorted(name for name in imported_names(path)
                                                           if name.split(".")[0].startswith("pulumi"))
                 for path in paths}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_core_imports_no_adapter():
    for module in CORE:
        adapters = {name for name in imported_names(core_path(module))
                    if name.startswith(("components.aws", "components.docker", "components.program"))}
        assert adapters == set(), module
