"""The dependency direction of docs/ARCHITECTURE.md, checked on the source text.

`ola_core` never imports Qt (it must run headless and under the CLI); `app` never imports torch
(the GUI talks to the engine only through the Assistant's API and events).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    """Top-level module names imported anywhere (also inside functions) by each file of a package."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("ola_core", {"PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "app"}),
        ("app", {"torch", "transformers", "bitsandbytes", "accelerate"}),
    ],
)
def test_dependency_direction(package: str, forbidden: set[str]) -> None:
    offenders = {
        f: sorted(names & forbidden) for f, names in imported_modules(package).items() if names & forbidden
    }
    assert not offenders, f"{package} must not import {sorted(forbidden)}: {offenders}"


def test_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The check must not be fooled by a lazy import inside a function body."""
    source = "def f():\n    import PySide6.QtCore\n    from torch import nn\n"
    tree = ast.parse(source)
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert names == {"PySide6", "torch"}


def test_importing_ola_core_does_not_load_qt() -> None:
    """At run time too: importing the core packages leaves Qt unloaded (fresh interpreter)."""
    import subprocess
    import sys

    code = (
        "import sys, importlib, pkgutil, ola_core\n"
        "for m in pkgutil.walk_packages(ola_core.__path__, 'ola_core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=240
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_shared_values_load_no_heavy_library() -> None:
    """The modules every layer imports (and the GUI reads) cost no torch, decoder or device library.

    Events, frames, settings and the media table are read by the GUI and the CLI before any
    model is wanted: importing them must stay cheap (fresh interpreter).
    """
    import subprocess
    import sys

    light = [
        "ola_core.errors",
        "ola_core.events",
        "ola_core.media_types",
        "ola_core.progress",
        "ola_core.settings",
        "ola_core.trace",
        "ola_core.processing.generation",
        "ola_core.processing.media",
    ]
    heavy = ["torch", "transformers", "PIL", "av", "cv2", "soundfile", "sounddevice", "mss"]
    code = (
        "import importlib, sys\n"
        f"for name in {light!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_no_file_of_ours_is_over_500_lines() -> None:
    """Small modules: a file past 500 lines is split by concern (issue 14), tests and scripts too."""
    suffixes = {".py", ".sh", ".ps1", ".bat", ".spec"}
    too_long = {
        str(path.relative_to(ROOT)): n
        for folder in ("ola_core", "app", "tests", "benchmarks", "scripts", "packaging")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in suffixes
        and "__pycache__" not in path.parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert not too_long, too_long
