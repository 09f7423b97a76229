"""No import cycles among umbral's modules, read from the sources.

Every ``import`` counts, at module level or inside a function: a function-level import that
closes a cycle still ties the two modules together (a deliberately lazy import keeps
``umbral --help`` fast, it does not make the dependency go away). Imports under
``if TYPE_CHECKING:`` never run and do not count. ``from package import name`` is an edge to
the submodule when ``name`` is one, otherwise to the package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Cycles that are known and are being removed elsewhere; each is the set of modules of one
#: strongly connected component. The test fails when a new cycle appears and when one of these
#: disappears, so that this set only ever shrinks (it should end empty).
KNOWN: set[frozenset[str]] = set()


def _package_dirs() -> dict[str, Path]:
    dirs = {
        "umbral": REPO / "core" / "umbral",
        "pytest_umbral": REPO / "pytest_umbral" / "pytest_umbral",
    }
    # The backend distributions: umbral_sqlite/umbral_sqlite, umbral_postgres/umbral_postgres...
    for path in sorted(REPO.glob("umbral_*/umbral_*/__init__.py")):
        dirs[path.parent.name] = path.parent
    return {name: d for name, d in dirs.items() if d.is_dir()}


def _modules() -> dict[str, Path]:
    modules = {}
    for top, directory in _package_dirs().items():
        for path in sorted(directory.rglob("*.py")):
            parts = [top, *path.relative_to(directory).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: dict
) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _imports(tree):
            for target in _targets(node, name, path.name == "__init__.py", modules):
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]  # a name inside a module
                if target in modules and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(frozenset(component))
    return found


def _show(components: set[frozenset[str]], graph: dict[str, set[str]]) -> str:
    lines = []
    for component in sorted(components, key=sorted):
        lines.append(" <-> ".join(sorted(component)))
        for module in sorted(component):
            lines.append(f"    {module} imports {', '.join(sorted(graph[module] & component))}")
    return "\n".join(lines)


def test_the_graph_sees_the_packages() -> None:
    graph = import_graph()
    assert "umbral.cli.main" in graph and "umbral.operations.base" in graph
    assert "umbral_sqlite.backend" in graph and "umbral_postgres.backend" in graph
    # Relative, function-level and `from package import submodule` imports are all read.
    assert "umbral.cli.common" in graph["umbral.cli.main"]
    assert "umbral.operations.base" in graph["umbral.operations"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == {frozenset({"a", "b", "c"})}


def test_no_new_import_cycle() -> None:
    graph = import_graph()
    new = cycles(graph) - KNOWN
    assert not new, "import cycle(s):\n" + _show(new, graph)


def test_the_known_cycles_are_still_there() -> None:
    """When a known cycle is gone, take it out of KNOWN (so it cannot come back unnoticed)."""
    gone = KNOWN - cycles(import_graph())
    assert not gone, "no longer cycles; remove from KNOWN: " + "; ".join(
        " <-> ".join(sorted(c)) for c in gone
    )
