"""How app/ is built, checked on its source: typed calls to the assistant, no import cycles, and the
file dialog's media filter taken from the one media table (issue 14)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _sources() -> dict[str, ast.Module]:
    """Each module of app/ by dotted name, parsed."""
    modules = {}
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = ast.parse(path.read_text(), filename=str(path))
    return modules


def string_dispatches(tree: ast.AST) -> list[str]:
    """``getattr`` calls that pick an attribute by a computed name, or that reach into an assistant
    by any name: either way mypy cannot check the call that follows."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"):
            continue
        if not node.args:
            continue
        target = ast.unparse(node.args[0])
        computed = len(node.args) < 2 or not isinstance(node.args[1], ast.Constant)
        if computed or "assistant" in target.lower():
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_app_calls_the_assistant_directly_never_by_name() -> None:
    offenders = {name: hits for name, tree in _sources().items() if (hits := string_dispatches(tree))}
    assert not offenders, f"typed calls on AssistantLike instead of getattr: {offenders}"


def test_the_dispatch_check_sees_both_kinds() -> None:
    source = (
        "def call(self, method, *args):\n"
        "    getattr(self.assistant, method)(*args)\n"
        "    state = getattr(assistant, 'state', None)\n"
        "    title = getattr(widget, 'title')\n"
    )
    hits = string_dispatches(ast.parse(source))
    assert sorted(hit.split(":")[0] for hit in hits) == ["line 2", "line 3"]


def imported_names(tree: ast.Module) -> set[str]:
    """Every module a file imports, and every ``module.name`` it imports from one: also under
    TYPE_CHECKING and inside functions (app/ uses no relative imports)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports), or None."""

    def walk(path: list[str]) -> list[str] | None:
        for following in sorted(graph[path[-1]]):
            if following == path[0]:
                return [*path, following]
            if following not in path and (cycle := walk([*path, following])):
                return cycle
        return None

    return next((cycle for start in sorted(graph) if (cycle := walk([start]))), None)


def test_app_has_no_import_cycles() -> None:
    modules = _sources()
    graph = {name: (imported_names(tree) & modules.keys()) - {name} for name, tree in modules.items()}
    assert find_cycle(graph) is None, f"import cycle in app/: {find_cycle(graph)}"


def test_the_cycle_check_sees_a_cycle() -> None:
    graph = {"app.main_window": {"app.menus"}, "app.menus": {"app.main_window"}, "app.theme": set()}
    assert find_cycle(graph) == ["app.main_window", "app.menus", "app.main_window"]


def test_app_does_not_import_the_cli() -> None:
    offenders = {
        name: sorted(cli)
        for name, tree in _sources().items()
        if (cli := {m for m in imported_names(tree) if m.startswith("ola_core.commands")})
    }
    assert not offenders, f"the GUI formats with ola_core.progress, not the CLI: {offenders}"


def test_file_dialog_offers_every_suffix_of_the_media_table() -> None:
    from app.widgets.input_row import media_filter
    from ola_core.processing.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES

    media, all_files = media_filter().split(";;")
    assert all_files == "All files (*)"
    patterns = set(media.removeprefix("Media (").removesuffix(")").split())
    assert patterns == {f"*{suffix}" for suffix in IMAGE_SUFFIXES | VIDEO_SUFFIXES | AUDIO_SUFFIXES}
    assert "*.tiff" in patterns  # the table's, not a private list of the dialog's
