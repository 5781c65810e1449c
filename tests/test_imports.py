"""No import cycles in ``chronolog``: a walk of the import graph, module by module.

Every ``import`` counts, also those inside functions (a deferred import is how a
cycle hides); those under ``if TYPE_CHECKING:`` do not (they never run). A
package's ``__init__`` is an edge only where a module imports the package itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import chronolog

ROOT = Path(chronolog.__file__).parent


def _modules() -> dict[str, tuple[Path, bool]]:
    found: dict[str, tuple[Path, bool]] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, package)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, package) in modules.items():
        base = name.split(".") if package else name.split(".")[:-1]

        def visit(node: ast.AST, name: str = name, base: list[str] = base) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue
                if isinstance(child, ast.ImportFrom):
                    if child.level:
                        up = base[: len(base) - (child.level - 1)]
                        target = ".".join(up + ([child.module] if child.module else []))
                    else:
                        target = child.module or ""
                    if target.split(".")[0] == "chronolog":
                        for alias in child.names:
                            full = f"{target}.{alias.name}"
                            edges[name].add(full if full in modules else target)
                elif isinstance(child, ast.Import):
                    for alias in child.names:
                        if alias.name.split(".")[0] == "chronolog":
                            edges[name].add(alias.name)
                visit(child)

        visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name: {t for t in targets if t in modules} for name, targets in edges.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_walk_sees_a_cycle() -> None:
    # The walker itself: a two-module loop and a three-module loop are found.
    edges = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(edges)) == [["a", "b"], ["c", "d", "e"]]


def test_the_graph_is_read() -> None:
    edges = _graph()
    assert "chronolog.store.engine" in edges["chronolog.core"]
    assert "chronolog.tui.messages" in edges["chronolog.tui.live"]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []
