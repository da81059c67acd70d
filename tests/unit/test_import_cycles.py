"""No import cycle among the modules of scripts/neo4j_ops/ and components/ (issue 19).

An edge A → B when A's source names B in an import statement anywhere: at the top, in a function, or
under `if TYPE_CHECKING:`. A cycle that only type hints close is still two modules that cannot be read,
tested or split one without the other; it is how the project had its one cycle (checks/report.py ↔
checks/lag.py, until results.py and overview.py took report's two jobs apart).

Relative imports are resolved against the module's package. `from P import x` is an edge to P.x when
that is a module, else to P. Importing P.Q.m from outside P runs P/__init__ and P/Q/__init__ first, so
those are edges too; not for a module inside P, whose package is already being imported.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.conftest import ROOT
from tests.support.module_names import module_name

TREES = ("scripts/neo4j_ops", "components")

def modules_of(trees: Iterable[str]) -> dict[str, Path]:
    return {module_name(path): path for tree in trees for path in sorted((ROOT / tree).rglob("*.py"))}


def _owner(name: str, known: set[str]) -> str | None:
    """The longest known module `name` is or lies in (a name imported from a module is in that module)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(source: str, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The known modules that importing `name` (whose source is `source`) imports, see the docstring."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    named = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            named += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            named += [f"{module}.{alias.name}" for alias in node.names]
    found = set()
    for owner in {_owner(candidate, known) for candidate in named} - {None, name}:
        found.add(owner)
        ancestor = owner.rpartition(".")[0]
        while ancestor:
            if ancestor in known and ancestor != name and not name.startswith(ancestor + "."):
                found.add(ancestor)
            ancestor = ancestor.rpartition(".")[0]
    return found


def import_graph(trees: Iterable[str] = TREES) -> dict[str, set[str]]:
    modules = modules_of(trees)
    known = set(modules)
    return {name: imported_modules(path.read_text(), name, path.name == "__init__.py", known)
            for name, path in modules.items()}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), each sorted: every module of
    one is reachable from every other, so each holds at least one cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.get(module, ()):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_the_detector_finds_a_planted_cycle_and_only_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"a", "d"}, "f": {"g"}, "g": {"f"}}
    assert cycles(graph) == [("a", "b", "c"), ("f", "g")]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []


def test_a_type_checking_import_counts_and_relative_imports_resolve():
    known = {"p", "p.checks", "p.checks.report", "p.checks.lag", "p.bolt"}
    report = "from typing import TYPE_CHECKING\nfrom .. import bolt\nif TYPE_CHECKING:\n    from .lag import Lag\n"
    lag = "from .report import FAIL\n"
    graph = {"p.checks.report": imported_modules(report, "p.checks.report", False, known),
             "p.checks.lag": imported_modules(lag, "p.checks.lag", False, known)}
    assert graph["p.checks.report"] == {"p.bolt", "p.checks.lag"}
    assert cycles(graph) == [("p.checks.lag", "p.checks.report")]


def test_importing_a_module_from_outside_its_package_runs_the_package_first():
    known = {"p", "p.checks", "p.checks.lag", "p.diagnose", "p.diagnose.findings"}
    assert imported_modules("from ..checks.lag import Lag\n", "p.diagnose.findings", False, known) == \
        {"p.checks.lag", "p.checks"}
    assert imported_modules("from .lag import Lag\n", "p.checks.run", False, known) == {"p.checks.lag"}


def test_the_graph_covers_both_trees():
    graph = import_graph()
    assert {"scripts.neo4j_ops.checks.results", "components.monitoring.alerts"} <= set(graph)
    assert "scripts.neo4j_ops.checks.results" in graph["scripts.neo4j_ops.checks.lag"]


def test_the_runtime_and_the_core_have_no_import_cycle():
    assert cycles(import_graph()) == []
