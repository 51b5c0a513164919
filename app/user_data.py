"""Where the installed app keeps the user's things, for the uninstallers to show and ask about.

``python -m app.user_data`` prints one ``<bytes>\\t<folder>`` line per existing folder: the
settings, the app's data (conversation history, cloned voices, the interface-test model), its logs, and the downloaded
models in the Hugging Face cache (only ours: other apps share that cache). scripts/uninstall.sh
and scripts/uninstall.ps1 run it before they remove the environment, then ask before deleting.
It lives in ``app`` because it gathers from several layers (settings, model_store); it imports
neither Qt nor torch, so the uninstallers get their answer in about a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

import huggingface_hub
import platformdirs

from ola_core import model_store
from ola_core.settings import APP_NAME, data_dir, settings_path


def user_data_folders() -> list[Path]:
    """Existing folders holding the user's settings, data, logs and downloaded models (no duplicates)."""
    folders = [
        settings_path().parent,
        data_dir(),  # the conversation history, cloned voices
        platformdirs.user_data_path(APP_NAME, "Ola"),  # model_store's interface-test model
        platformdirs.user_log_path(APP_NAME, "Ola"),  # app/crash.py's logs (importing it loads Qt)
    ]
    try:
        cache = huggingface_hub.scan_cache_dir()
    except (huggingface_hub.CacheNotFound, OSError):
        cache = None
    if cache is not None:
        known = {model_store.OLA_REPO, model_store.SPEECH_ENCODERS_REPO, model_store.COSYVOICE_REPO}
        folders += [repo.repo_path for repo in cache.repos if repo.repo_id in known]
    unique: list[Path] = []
    for folder in folders:
        if folder.is_dir() and folder not in unique:
            unique.append(folder)
    return unique


def folder_bytes(folder: Path) -> int:
    """Bytes in the folder's files (links not followed: the HF cache links into its blobs/)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m app.user_data", file=sys.stderr)
        return 2
    for folder in user_data_folders():
        print(f"{folder_bytes(folder)}\t{folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
