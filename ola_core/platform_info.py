"""Which build of the app this is, and where Windows keeps programs: facts about the platform.

Why: the same code runs from a git checkout, from an installed wheel and from the PyInstaller
one-folder build, on Linux, Windows and macOS. ``--version``, About and bug reports must say
which of those it is (the build); the platform branches (espeak-ng's install folder) read the
environment through :func:`windows_program_dirs`, so tests can fake it in one place. This is a
base module: it imports nothing of ours but the version.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ola_core import __version__

__all__ = [
    "BUILD_FILE",
    "build_description",
    "is_frozen",
    "version_line",
    "windows_program_dirs",
]

# Written into the one-folder build by packaging/pyinstaller/ola-assistant.spec: "<commit> <date>".
BUILD_FILE = "ola-build.txt"
ROOT = Path(__file__).resolve().parent.parent


def is_frozen() -> bool:
    """True inside the PyInstaller build (it sets ``sys.frozen`` and unpacks into ``sys._MEIPASS``)."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def _git_commit(root: Path) -> str | None:
    """The checked-out commit of ``root`` read from .git's files (no git program, no subprocess)."""
    git = root / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text(encoding="utf-8").split(":", 1)[1].strip())
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return head[:12]  # detached
        ref = head[5:]
        common = git / "commondir"
        base = (git / common.read_text(encoding="utf-8").strip()).resolve() if common.is_file() else git
        ref_file = base / ref
        if ref_file.is_file():
            return ref_file.read_text(encoding="utf-8").strip()[:12]
        packed = base / "packed-refs"
        for line in packed.read_text(encoding="utf-8").splitlines() if packed.is_file() else []:
            if line.endswith(" " + ref):
                return line[:12]
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    return None


def build_description() -> str:
    """How this copy was built: "one-folder build <commit> <date>", "git checkout <commit>" or "installed package"."""
    if is_frozen():
        stamp = Path(getattr(sys, "_MEIPASS", "")) / BUILD_FILE
        try:
            return f"one-folder build {stamp.read_text(encoding='utf-8').strip()}"
        except OSError:
            return "one-folder build (unstamped)"
    commit = _git_commit(ROOT) if (ROOT / ".git").exists() else None
    return f"git checkout {commit}" if commit else "installed package"


def version_line() -> str:
    """What ``ola-assistant --version`` prints: the release and the build."""
    return f"ola-assistant {__version__} ({build_description()}; Python {sys.version.split()[0]}, {sys.platform})"


def windows_program_dirs() -> list[Path]:
    """Folders Windows installers put programs in (Program Files, both bitnesses, and per-user)."""
    names = ("ProgramFiles", "ProgramW6432", "ProgramFiles(x86)", "LOCALAPPDATA")
    folders: list[Path] = []
    for name in names:
        value = os.environ.get(name)
        if value:
            folder = Path(value) / "Programs" if name == "LOCALAPPDATA" else Path(value)
            if folder not in folders:
                folders.append(folder)
    return folders
