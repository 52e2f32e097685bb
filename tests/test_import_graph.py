"""The package's modules form no import cycle (the rule is in CONTRIBUTING.md).

Every ``import``/``from ... import`` in ``src/omie_otel`` counts, at module level or inside a function (a lazy import
still runs and can still see a half-initialised module); only imports under ``if TYPE_CHECKING:`` do not, because
they never run. ``from omie_otel import semconv`` is an import of ``omie_otel.semconv``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "omie_otel"
ROOT = Path(__file__).resolve().parent.parent / "src" / PACKAGE


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str, modules: dict[str, Path]) -> set[str]:
    """The package modules a module's code imports when it runs."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & modules.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found & modules.keys()


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = _imports(ast.parse(path.read_text(encoding="utf-8")), package, modules) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or ``None``."""
    done: set[str] = set()
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = walk(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = walk(start)
        if cycle:
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 20 and "omie_otel._ops" in graph["omie_otel._integrations"], "the graph was read"
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])} (see CONTRIBUTING.md for where the code goes)"


def test_the_cycle_finder_finds_a_lazy_import_loop_and_ignores_type_checking() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from omie_otel import health\n"
        "def later():\n    from omie_otel._instrument import current_state\n"
    )
    modules = {"omie_otel": ROOT, "omie_otel._instrument": ROOT, "omie_otel.health": ROOT, "omie_otel.x": ROOT}
    imported = _imports(ast.parse(source), "omie_otel", modules)
    assert imported == {"omie_otel._instrument"}, "the lazy import counts, the TYPE_CHECKING one does not"
    relative = _imports(ast.parse("from .. import health\nfrom .._instrument import SCOPE\n"), "omie_otel.x", modules)
    assert relative == {"omie_otel.health", "omie_otel._instrument"}
    loop = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(loop) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
