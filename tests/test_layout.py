"""The layout holds: each part imports only the parts below it, and no module imports itself back.

Every import counts, at the top of a module or inside a function (docs/architecture.md: the parts).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# From the bottom up: a module may import its own part and the parts before it, never one after.
LAYERS = [
    ["sync.contract"],
    ["sync.publish", "sync.receive", "sync.authoring"],  # the channel's two sides never import each other
    ["kiosk.settings"],
    ["kiosk.templating"],
    ["kiosk.web"],
    ["kiosk.data"],
    ["kiosk.device"],
    ["kiosk.screens"],
    ["kiosk.staff"],
    ["kiosk.county", "kiosk.demo"],
    ["kiosk.cli"],
]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _known(name: str, modules: set[str]) -> str | None:
    """Return the module *name* refers to (a module, or the module a name was imported from)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Map every module of kiosk/ and sync/ to the project modules it imports."""
    paths = [p for package in ("kiosk", "sync") for p in (ROOT / package).rglob("*.py")]
    modules = {_module(p) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: relative import (the layout test reads absolute ones)"
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        found = {_known(name, modules) for name in imported}
        graph[_module(path)] = {m for m in found if m and m != _module(path)}
    return graph


def _layer(module: str) -> tuple[int, str]:
    for index, parts in enumerate(LAYERS):
        for part in parts:
            if module == part or module.startswith(part + "."):
                return index, part
    raise AssertionError(f"{module} belongs to no part: add it to LAYERS and docs/architecture.md")


def test_every_part_imports_only_the_parts_below_it() -> None:
    wrong = []
    for module, imported in import_graph().items():
        if module in ("kiosk", "sync"):
            continue
        layer, part = _layer(module)
        for other in imported:
            if other in ("kiosk", "sync"):
                continue
            other_layer, other_part = _layer(other)
            if other_layer > layer or (other_layer == layer and other_part != part):
                wrong.append(f"{module} imports {other}")
    assert wrong == []


def test_no_module_imports_itself_back() -> None:
    graph = import_graph()
    cycles = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            module, path = stack.pop()
            for other in graph.get(module, ()):
                if other == start:
                    cycles.append(" -> ".join([*path, start]))
                elif other not in seen:
                    seen.add(other)
                    stack.append((other, [*path, other]))
    assert cycles == []
