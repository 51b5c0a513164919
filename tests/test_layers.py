"""The layering of docs/ARCHITECTURE.md as a contract, checked on every import in the source.

Layers, top to bottom (a module may import only from its own unit or from units below it; units
on one line are siblings and independent of each other — the spirit of an import-linter
``layers`` contract with ``|`` siblings):

    app
    commands | cli                 the front ends of the CLI
    booth                          demo-booth mode: sessions, guard rails, watchdog (over the assistant)
    assistant
    model_store                    finds, downloads and checks the model files
    engine | capture | speech | history
    settings
    model | processing             (processing never imports model; model may use processing)
    errors | events | trace | log | privacy | progress | media_types | ...   — the base

plus: no import cycle between any two modules of ours.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: list[set[str]] = [
    {"app"},
    {"commands", "cli"},
    {"booth"},
    {"assistant"},
    {"model_store"},
    {"engine", "capture", "speech", "history"},
    {"settings"},
    {"model", "processing"},
    set(),  # the base: every unit not named above (single modules of shared values and helpers)
]
ALLOWED_WITHIN_LAYER = {("model", "processing")}  # model's BEATs reads the fbank of processing/


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "app":
        return "app"
    if parts[0] != "ola_core" or len(parts) == 1:
        return None
    return parts[1]


def _layer(unit: str) -> int:
    return next((i for i, units in enumerate(LAYERS) if unit in units), len(LAYERS) - 1)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module of ours that the file imports, at top level or inside a function."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in found if m.split(".")[0] in ("ola_core", "app")}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for pkg in ("ola_core", "app") for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in files.items():
        for target in _imports(path):
            while target and target not in files:  # `from pkg import Name` names a class, not a module
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    return graph


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for source, targets in graph.items():
        for target in targets:
            a, b = _unit(source), _unit(target)
            if a is None or b is None or a == b or (a, b) in ALLOWED_WITHIN_LAYER:
                continue
            if _layer(a) >= _layer(b) and _layer(b) < len(LAYERS) - 1:
                problems.append(f"{source} -> {target}")
    return sorted(problems)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_every_import_points_down_the_layers() -> None:
    assert layer_violations(_graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(_graph()) == []


@pytest.mark.parametrize(
    ("graph", "violations", "n_cycles"),
    [
        ({"ola_core.engine.a": {"ola_core.capture.b"}}, ["ola_core.engine.a -> ola_core.capture.b"], 0),
        ({"ola_core.errors": {"ola_core.assistant.core"}}, ["ola_core.errors -> ola_core.assistant.core"], 0),
        ({"ola_core.assistant.core": {"ola_core.errors", "ola_core.model.x"}}, [], 0),
        ({"ola_core.model.a": {"ola_core.model.b"}, "ola_core.model.b": {"ola_core.model.a"}}, [], 1),
    ],
)
def test_the_checker_itself(graph: dict[str, set[str]], violations: list[str], n_cycles: int) -> None:
    assert layer_violations(graph) == violations
    assert len(cycles(graph)) == n_cycles
