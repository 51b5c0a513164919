"""Which build of the app this is, and what the platform offers it: one place for the checks.

Why: the same code runs from a git checkout, from an installed wheel and from the PyInstaller
one-folder build, on Linux, Windows and macOS. ``--version``, About and bug reports must say
which of those it is (the build), and the platform branches (audio system, where programs are
installed) read the platform here, so tests can fake it at this one boundary.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from ola_core import __version__

__all__ = [
    "BUILD_FILE",
    "AudioSystem",
    "audio_system",
    "build_description",
    "is_frozen",
    "user_data_folders",
    "version_line",
    "windows_program_dirs",
]

# Written into the one-folder build by packaging/pyinstaller/ola-assistant.spec: "<commit> <date>".
BUILD_FILE = "ola-build.txt"
ROOT = Path(__file__).resolve().parent.parent

AudioSystem = Literal["pulse", "wasapi", "coreaudio", "alsa"]


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


def audio_system() -> AudioSystem:
    """Where device lists come from: PulseAudio/PipeWire (via pactl) on Linux when a server runs,
    else PortAudio's host API for the platform (WASAPI on Windows, Core Audio on macOS, ALSA)."""
    if sys.platform == "win32":
        return "wasapi"
    if sys.platform == "darwin":
        return "coreaudio"
    from ola_core.capture.devices import pulse_running  # pactl is asked only on Linux

    return "pulse" if pulse_running() else "alsa"


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


def user_data_folders() -> list[Path]:
    """Existing folders that hold the user's things: settings, conversation data, logs, downloaded models.

    The uninstallers ask before deleting these (``python -m ola_core.platform_info user-data``).
    Models are the known repositories' folders in the Hugging Face cache, which other apps share.
    """
    import huggingface_hub
    import platformdirs

    from ola_core import model_store
    from ola_core.settings import APP_NAME, settings_path

    folders = [
        settings_path().parent,
        platformdirs.user_data_path(APP_NAME, "Ola"),
        platformdirs.user_data_path(APP_NAME),  # the cloned-voice file's folder (no author part)
        platformdirs.user_log_path(APP_NAME, "Ola"),
    ]
    try:
        cache = huggingface_hub.scan_cache_dir()
        known = {model_store.OLA_REPO, model_store.SPEECH_ENCODERS_REPO, model_store.COSYVOICE_REPO}
        folders += [repo.repo_path for repo in cache.repos if repo.repo_id in known]
    except (huggingface_hub.CacheNotFound, OSError):
        pass
    unique: list[Path] = []
    for folder in folders:
        if folder.is_dir() and folder not in unique:
            unique.append(folder)
    return unique


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


if __name__ == "__main__":  # used by scripts/uninstall.sh and scripts/uninstall.ps1
    if sys.argv[1:] != ["user-data"]:
        print("usage: python -m ola_core.platform_info user-data", file=sys.stderr)
        sys.exit(2)
    for found in user_data_folders():
        print(f"{_size(found)}\t{found}")
