"""Finding a complete set of model files: a folder the user names, or huggingface_hub's cache.

Files are found in a folder the user names, in a folder holding ``Ola-7b/`` and
``Ola_speech_encoders/`` side by side (and ``CosyVoice2-0.5B/``), or in huggingface_hub's cache.
The names come from their one home: :mod:`ola_core.model.locator` for Ola's, and
:mod:`ola_core.speech.cosyvoice.files` for CosyVoice's. The interface-test model (a tiny checkpoint
with random weights, ``ola_core.model.tiny``) is marked by :data:`TEST_MODEL_MARKER` in its folder
and labelled as such wherever it appears.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import huggingface_hub
import platformdirs

from ola_core.errors import OlaError
from ola_core.model.locator import (
    ENCODERS_DIR_NAME,
    INDEX_NAME,
    OLA_DIR_NAME,
    OLA_REPO,
    SINGLE_NAME,
    SPEECH_ENCODER_FILES,
    SPEECH_ENCODERS_REPO,
    WHISPER_FILE_NAME,
    has_tokenizer,
)
from ola_core.speech.cosyvoice import files as cosyvoice_files
from ola_core.speech.cosyvoice.files import COSYVOICE_DIR_NAME, COSYVOICE_REPO

TEST_MODEL_MARKER = "OLA_INTERFACE_TEST_MODEL.txt"
TEST_MODEL_LABEL = "Interface-test model (tiny, random weights — answers are gibberish)"

Source = Literal["folder", "hf-cache", "test-model"]


@dataclass(frozen=True)
class ModelFiles:
    """A complete set of files the engine can load."""

    ola_dir: Path  # config.json, tokenizer, safetensors
    speech_encoders_dir: Path  # large-v3.pt and the BEATs checkpoint
    cosyvoice_dir: Path | None  # None: the app speaks with the offline fallback voice
    source: Source
    is_test_model: bool = False

    @property
    def label(self) -> str:
        """How the UI names this model (the test model is never shown as the real one)."""
        return TEST_MODEL_LABEL if self.is_test_model else f"Ola-7B ({self.ola_dir})"


def ola_dir_problems(path: Path) -> list[str]:
    """What is missing from an Ola checkpoint folder (empty list: complete).

    Checks presence only (not contents): the loader validates the tensors themselves. Sharded
    checkpoints must have every shard the index names, which catches a half-finished download.
    """
    if not path.is_dir():
        return [f"{path} is not a folder"]
    problems = []
    if not (path / "config.json").is_file():
        problems.append("config.json")
    index = path / INDEX_NAME
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError, TypeError):
            problems.append(f"{index.name} (unreadable)")
            shards = set()
        problems += sorted(s for s in shards if not (path / s).is_file())
    elif not (path / SINGLE_NAME).is_file():
        problems.append(f"{SINGLE_NAME} (or a sharded index)")
    if not has_tokenizer(path):
        problems.append("tokenizer.json")
    return problems


def _has_speech_encoders(path: Path) -> bool:
    return all((path / name).is_file() for name in SPEECH_ENCODER_FILES)


def is_test_model(path: Path) -> bool:
    return (path / TEST_MODEL_MARKER).is_file()


def find_in_folder(folder: Path) -> ModelFiles | None:
    """A complete set under ``folder``: the Ola folder itself, or ``Ola-7b/`` + ``Ola_speech_encoders/`` in it."""
    folder = folder.expanduser()
    layouts = [
        (folder, folder, folder / COSYVOICE_DIR_NAME),
        (folder / OLA_DIR_NAME, folder / ENCODERS_DIR_NAME, folder / COSYVOICE_DIR_NAME),
        (folder, folder.parent / ENCODERS_DIR_NAME, folder.parent / COSYVOICE_DIR_NAME),
    ]
    for ola, speech, cosy in layouts:
        if not ola_dir_problems(ola) and _has_speech_encoders(speech):
            return ModelFiles(
                ola_dir=ola,
                speech_encoders_dir=speech,
                cosyvoice_dir=cosy if cosyvoice_files.is_complete(cosy) else None,
                source="folder",
                is_test_model=is_test_model(ola),
            )
    return None


def _cached_snapshot(repo_id: str, probe: str, cache_dir: Path | None) -> Path | None:
    """The snapshot folder of ``repo_id`` in the HF cache that holds ``probe``, if any (no network)."""
    found = huggingface_hub.try_to_load_from_cache(repo_id, probe, cache_dir=cache_dir)
    return Path(found).parent if isinstance(found, str) else None


def find_in_hf_cache(cache_dir: Path | None = None) -> ModelFiles | None:
    """A complete set in huggingface_hub's cache (the default cache unless ``cache_dir``)."""
    ola = _cached_snapshot(OLA_REPO, "config.json", cache_dir)
    speech = _cached_snapshot(SPEECH_ENCODERS_REPO, WHISPER_FILE_NAME, cache_dir)
    if ola is None or speech is None or ola_dir_problems(ola) or not _has_speech_encoders(speech):
        return None
    return ModelFiles(
        ola_dir=ola,
        speech_encoders_dir=speech,
        cosyvoice_dir=cosyvoice_files.cached_dir(cache_dir),
        source="hf-cache",
    )


def cached_repos(cache_dir: Path | None = None) -> dict[str, int]:
    """Bytes on disk per known repository in the HF cache (for the About dialog and the setup)."""
    try:
        info = huggingface_hub.scan_cache_dir(cache_dir)
    except huggingface_hub.CacheNotFound:
        return {}
    known = {OLA_REPO, SPEECH_ENCODERS_REPO, COSYVOICE_REPO}
    return {r.repo_id: r.size_on_disk for r in info.repos if r.repo_id in known}


def default_test_model_dir() -> Path:
    return Path(platformdirs.user_data_dir("ola-assistant", "Ola")) / "interface-test-model"


def find_model_files(folder: Path | None = None, cache_dir: Path | None = None) -> ModelFiles | None:
    """The model to use: the user's folder first, then the HF cache; None when nothing is complete.

    Without ``folder``, the folder the settings name is used: the model the first-run setup
    installed, the interface-test model included, so ``ask`` finds what the GUI uses. The
    interface-test model is found only when a folder points at it: it is never picked
    behind the user's back.
    """
    if folder is None:
        from ola_core.settings import load_settings

        configured = load_settings()[0].model.model_dir
        folder = Path(configured) if configured else None
    if folder is not None and (found := find_in_folder(folder)) is not None:
        return replace(found, source="test-model") if found.is_test_model else found
    return find_in_hf_cache(cache_dir)


def refuse_non_empty(folder: Path, force: bool) -> None:
    """An :class:`OlaError` when ``folder`` holds anything and ``force`` is off.

    Writing a test model over a folder replaces its weights: a real model would be lost.
    """
    folder = folder.expanduser()
    if force or not folder.exists():
        return
    if not folder.is_dir():
        raise OlaError(f"{folder} is a file, not a folder. Choose another place.")
    if any(folder.iterdir()):
        raise OlaError(
            f"{folder} is not empty; writing there would replace its files. Add --force to do it anyway."
        )


def write_test_model(folder: Path | None = None) -> ModelFiles:
    """Write the interface-test model (tiny random weights) and return it, marked and labelled."""
    from ola_core.model.tiny import write_tiny_checkpoint

    folder = (folder or default_test_model_dir()).expanduser()
    found = find_in_folder(folder)
    if found is None or not found.is_test_model:
        checkpoint = write_tiny_checkpoint(folder)
        (checkpoint.model_dir / TEST_MODEL_MARKER).write_text(
            "This folder holds the Ola Assistant interface-test model: a tiny network with random\n"
            "weights. It lets the app run on any machine; its answers are meaningless.\n"
        )
    found = find_in_folder(folder)
    if found is None:
        raise OlaError(f"The interface-test model in {folder} is incomplete; delete the folder and retry.")
    return replace(found, source="test-model", is_test_model=True)
