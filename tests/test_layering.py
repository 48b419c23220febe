"""The layering of the contacts app: packages depend on each other in one direction only.

Walks every import of the app, at module level and inside functions (`if TYPE_CHECKING:` blocks aside,
they never run), and fails on any cycle between its packages or top-level modules, on the core
importing anything above it, and on any module importing one of Django's discovery points (models,
admin, tasks, urls, apps), which only Django may import.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "contacts"
DISCOVERY_POINTS = {"contacts.models", "contacts.admin", "contacts.tasks", "contacts.urls", "contacts.apps"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_modules() -> dict[str, Path]:
    return {module_name(path): path for path in APP.rglob("*.py") if "migrations" not in path.parts}


def type_checking_nodes(tree: ast.AST) -> set[ast.AST]:
    """Every node inside an `if TYPE_CHECKING:` block."""
    hidden: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                hidden.update(ast.walk(child))
    return hidden


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The app modules `module` imports, resolved (relative imports, `from package import module`)."""
    tree = ast.parse(path.read_text())
    hidden = type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in hidden:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != module}


def unit_of(module: str) -> str:
    """The layer a module belongs to: its package (contacts.cce), or itself if it sits in contacts/."""
    parts = module.split(".")
    if len(parts) >= 2 and (APP / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    return {name: imported_modules(name, path, set(modules)) for name, path in modules.items()}


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    units: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            if unit_of(target) != unit_of(module):
                units[unit_of(module)].add(unit_of(target))
    return units


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a path [a, b, ..., a], or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


class LayeringTests:
    def test_it_finds_no_cycle_between_packages_or_top_level_modules(self) -> None:
        cycle = find_cycle(unit_graph(import_graph()))
        assert cycle is None, "import cycle between layers: " + " → ".join(cycle or [])

    def test_it_keeps_the_core_at_the_bottom(self) -> None:
        above = {
            (module, target)
            for module, targets in import_graph().items()
            if unit_of(module) == "contacts.core"
            for target in targets
            if unit_of(target) != "contacts.core"
        }
        assert not above, f"the core imports packages above it: {sorted(above)}"

    def test_it_leaves_the_discovery_points_to_django(self) -> None:
        importers = {
            (module, target)
            for module, targets in import_graph().items()
            for target in targets & DISCOVERY_POINTS
        }
        assert not importers, f"only Django imports its discovery points: {sorted(importers)}"

    @pytest.mark.parametrize(
        "edges, expected",
        [
            ({"a": {"b"}, "b": {"c"}}, None),
            ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
            ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ],
    )
    def test_it_detects_cycles(self, edges: dict[str, set[str]], expected: list[str] | None) -> None:
        assert find_cycle(edges) == expected

    def test_it_sees_imports_inside_functions(self, tmp_path: Path) -> None:
        source = tmp_path / "probe.py"
        source.write_text("def later():\n    from contacts.cce import tasks\n")
        assert imported_modules("contacts.core.probe", source, {"contacts.cce.tasks", "contacts.cce"}) == {
            "contacts.cce", "contacts.cce.tasks"
        }
