"""Reading the two official speech-encoder checkpoints, with the errors a user can act on.

Both are read with ``torch.load(weights_only=True)`` (memory-mapped where the format allows):
``large-v3.pt`` (openai-whisper's ``{'dims', 'model_state_dict'}``, fp16) and the BEATs ``.pt``
(``{'cfg', 'model'}``, fp32). Each file's own settings are checked against its tensors before
anything is built from them. :mod:`ola_core.model.tiny` writes files in the same formats.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ola_core.errors import CorruptModelFileError, ModelFilesMissingError
from ola_core.model.beats import Beats
from ola_core.model.locator import BEATS_FILE_NAME, SPEECH_ENCODERS_REPO, WHISPER_FILE_NAME
from ola_core.model.whisper import WhisperEncoder


def _torch_load(path: str | Path, what: str) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with the user-facing errors of a missing or broken file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFilesMissingError(
            f"The {what} file {path} does not exist. Download it from {SPEECH_ENCODERS_REPO} "
            "on Hugging Face (or point the app at the folder that holds it)."
        )
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) file
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError) as error:
        raise CorruptModelFileError(
            f"The {what} file {path} cannot be read ({type(error).__name__}: {str(error)[:200]}). "
            "It is probably truncated or not the right file: download it again."
        ) from error
    if not isinstance(obj, dict):
        raise CorruptModelFileError(
            f"The {what} file {path} is not a checkpoint dictionary: download it again."
        )
    return obj


def _check_state(state: Mapping[str, Tensor], expected: nn.Module, path: Path, what: str) -> None:
    want = {k: tuple(v.shape) for k, v in expected.state_dict().items()}
    missing = sorted(set(want) - set(state))
    wrong = sorted(k for k in want if k in state and tuple(state[k].shape) != want[k])
    if missing or wrong:
        detail = f"missing {missing[:3]}" if missing else f"wrong shape for {wrong[:3]}"
        raise CorruptModelFileError(
            f"The {what} file {path} does not hold the weights its own settings describe ({detail}). "
            "It is damaged or a different model: download it again."
        )


def load_whisper_encoder_state(path: str | Path) -> tuple[dict[str, int], dict[str, Tensor]]:
    """Read an openai-whisper checkpoint (``{'dims', 'model_state_dict'}``) → (dims, encoder state).

    Only the encoder's tensors are kept, under our names (the ``encoder.`` prefix removed); the
    file's dtype (fp16 for large-v3.pt) is kept too.
    """
    what = f"Whisper speech encoder ({WHISPER_FILE_NAME})"
    checkpoint = _torch_load(path, what)
    dims, weights = checkpoint.get("dims"), checkpoint.get("model_state_dict")
    if not isinstance(dims, dict) or not isinstance(weights, dict):
        raise CorruptModelFileError(
            f"The {what} file {path} is not an openai-whisper checkpoint (no 'dims' / 'model_state_dict'): "
            f"use {WHISPER_FILE_NAME} from {SPEECH_ENCODERS_REPO}."
        )
    try:
        with torch.device("meta"):
            expected = WhisperEncoder.from_dims(dims)
    except (KeyError, TypeError) as error:
        raise CorruptModelFileError(f"The {what} file {path} has unusable 'dims' ({error}).") from error
    state = {k.removeprefix("encoder."): v for k, v in weights.items() if k.startswith("encoder.")}
    _check_state(state, expected, Path(path), what)
    return dict(dims), state


def load_beats_state(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Read a BEATs checkpoint (``{'cfg', 'model'}``) → (cfg, state), tensors as stored (fp32)."""
    what = "BEATs audio encoder"
    checkpoint = _torch_load(path, what)
    cfg, state = checkpoint.get("cfg"), checkpoint.get("model")
    if not isinstance(cfg, dict) or not isinstance(state, dict):
        raise CorruptModelFileError(
            f"The {what} file {path} is not a BEATs checkpoint (no 'cfg' / 'model'): use "
            f"{BEATS_FILE_NAME} from {SPEECH_ENCODERS_REPO}."
        )
    try:
        with torch.device("meta"):
            expected = Beats.from_cfg(cfg)
    except (TypeError, ValueError) as error:
        raise CorruptModelFileError(f"The {what} file {path} has an unusable 'cfg' ({error}).") from error
    _check_state(state, expected, Path(path), what)
    return dict(cfg), dict(state)
