"""The import graph of the package: no cycle anywhere, and ``db`` at the bottom of the store.

Every ``import`` statement counts, those inside functions and under ``TYPE_CHECKING`` too: a
function-level import only hides a cycle from the interpreter until the function runs."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "stockscan"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules of the package that ``path`` imports, anywhere in its text."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from stockscan import store` imports a module; `from stockscan.db import
                # transaction` imports a name of one.
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imports_of(path, modules) for path in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each module that is on one (depth-first, three colours)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                found.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_an_import_inside_a_function_counts() -> None:
    # cli/common.py imports the store only inside `database()`.
    assert "stockscan.store" in import_graph()["stockscan.cli.common"]


# The one cycle left: sources/__init__ imports yahoo inside its functions, and yahoo imports
# Provenance from sources/__init__. Issue 16 splits yahoo.py: once it takes Provenance from a
# module of its own, this list is empty, and must stay so.
KNOWN_CYCLES: list[list[str]] = []


def test_no_module_of_the_package_takes_part_in_an_import_cycle() -> None:
    graph = import_graph()
    assert "stockscan.store.jobs" in graph and "stockscan.db" in graph
    assert cycles(graph) == KNOWN_CYCLES


def test_db_imports_nothing_of_ours_but_the_errors() -> None:
    assert import_graph()["stockscan.db"] == {"stockscan.errors"}


def test_the_store_opens_and_migrates_while_migrations_never_import_the_store() -> None:
    graph = import_graph()
    assert "stockscan.migrations" in graph["stockscan.store"]
    assert not any(module.startswith("stockscan.store") for module in graph["stockscan.migrations"])
