"""The house's shape: no import circle among core's modules.

Every ``import`` and ``from ... import`` in ``core/`` is read with ``ast``, function-level ones
included (a lazy import only hides a circle until the day someone moves it to the top). A circle
that crosses a domain package means two domains cannot be understood, tested or moved apart; shared
infrastructure (signing, storage, mail, db, config) imports no domain at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"

#: Top-level modules of core that are shared infrastructure: they may import no domain package.
INFRASTRUCTURE = ("core.config", "core.db", "core.errors", "core.ids", "core.i18n", "core.mail",
                  "core.signing", "core.storage")


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in CORE.rglob("*.py") if "locale" not in path.parts}


def import_graph() -> dict[str, set[str]]:
    """Each core module and the core modules it imports (anywhere in its body)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # "from core.accounts import signing" imports a module; "from core.x import f" a name.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                while target and target not in modules:  # "import core.a.b" names core.a.b; a name falls back
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _domain(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    graph = import_graph()
    assert "core.errors" in graph["core.config"] or "core.config" in graph["core.storage"]
    # core.manage imports its command modules inside functions.
    assert any(target.startswith("core.cli") for target in graph["core.manage"])


def test_no_import_circle_crosses_a_domain_package() -> None:
    crossing = [cycle for cycle in import_cycles(import_graph()) if len({_domain(m) for m in cycle}) > 1]
    assert crossing == [], f"import circles across packages: {crossing}"


def test_no_import_circle_inside_a_domain_package() -> None:
    assert import_cycles(import_graph()) == []


def test_shared_infrastructure_imports_no_domain_package() -> None:
    graph = import_graph()
    domains = {_domain(m) for m in graph if m.count(".") >= 2}
    leaks = {m: sorted(t for t in graph[m] if _domain(t) in domains) for m in INFRASTRUCTURE if m in graph}
    assert {m: t for m, t in leaks.items() if t} == {}
