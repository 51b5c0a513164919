"""Where Ola's files come from and where they are looked for: the one place for their names.

Two Hugging Face repositories make the model (see docs/ARCHITECTURE.md, "Model files"):
``THUdyh/Ola-7b`` (config, tokenizer, safetensors) and ``THUdyh/Ola_speech_encoders`` (Whisper's
``large-v3.pt`` and the BEATs checkpoint). The loader, the tiny-checkpoint writer and the model
store (download and setup) all take the names from here. Nothing here imports torch: the GUI's
model store reads this module too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ola_core.errors import ModelFilesMissingError

log = logging.getLogger(__name__)

OLA_REPO = "THUdyh/Ola-7b"
SPEECH_ENCODERS_REPO = "THUdyh/Ola_speech_encoders"
OLA_DIR_NAME = "Ola-7b"  # the folder names the two repositories get side by side
ENCODERS_DIR_NAME = "Ola_speech_encoders"
WHISPER_FILE_NAME = "large-v3.pt"
BEATS_FILE_NAME = "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"
SPEECH_ENCODER_FILES = (WHISPER_FILE_NAME, BEATS_FILE_NAME)
INDEX_NAME = "model.safetensors.index.json"  # a sharded checkpoint's index
SINGLE_NAME = "model.safetensors"  # an unsharded checkpoint
# Hugging Face repositories that may hold the encoder files (the Ola repo gained copies later).
ENCODER_REPOS = (SPEECH_ENCODERS_REPO, OLA_REPO)
# Whisper's own tokenizer (for captions: large-v3.pt holds the weights but no vocabulary), found
# beside large-v3.pt under its local name or in the HF cache of the official Whisper repository.
WHISPER_TOKENIZER_REPO = "openai/whisper-large-v3"
WHISPER_TOKENIZER_FILE = "tokenizer.json"
WHISPER_TOKENIZER_NAME = "whisper-tokenizer.json"


@dataclass(frozen=True)
class EncoderFiles:
    whisper: Path
    beats: Path


def has_tokenizer(model_dir: Path) -> bool:
    """Whether the folder holds a tokenizer transformers can load (tokenizer.json, or vocab + merges)."""
    return (model_dir / "tokenizer.json").is_file() or (
        (model_dir / "vocab.json").is_file() and (model_dir / "merges.txt").is_file()
    )


def find_encoder_files(
    model_dir: Path, speech_encoder: str | Path | None = None, music_encoder: str | Path | None = None
) -> EncoderFiles:
    """Locate ``large-v3.pt`` and the BEATs file (explicit path > beside > sibling folder > HF cache)."""
    whisper = _find_one(WHISPER_FILE_NAME, "Whisper speech encoder", model_dir, speech_encoder)
    beats = _find_one(BEATS_FILE_NAME, "BEATs audio encoder", model_dir, music_encoder)
    return EncoderFiles(whisper, beats)


def find_whisper_tokenizer(whisper: Path) -> Path | None:
    """Whisper's ``tokenizer.json`` (beside ``large-v3.pt``, else the HF cache), or None: no captions."""
    beside = whisper.parent / WHISPER_TOKENIZER_NAME
    return beside if beside.is_file() else _hf_cached(WHISPER_TOKENIZER_REPO, WHISPER_TOKENIZER_FILE)


def _find_one(name: str, what: str, model_dir: Path, explicit: str | Path | None) -> Path:
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_file():
            return path
        raise ModelFilesMissingError(f"The {what} file {path} does not exist: check the path you gave.")
    candidates = [
        model_dir / name,
        model_dir.parent / ENCODERS_DIR_NAME / name,
        model_dir / ENCODERS_DIR_NAME / name,
    ]
    for path in candidates:
        if path.is_file():
            return path
    for repo in ENCODER_REPOS:
        cached = _hf_cached(repo, name)
        if cached is not None:
            return cached
    looked = "; ".join(str(p) for p in candidates)
    raise ModelFilesMissingError(
        f"The {what} file {name} was not found. Looked in: {looked}; and in the Hugging Face cache "
        f"({', '.join(ENCODER_REPOS)}). Download {SPEECH_ENCODERS_REPO} next to the {OLA_DIR_NAME} folder."
    )


def _hf_cached(repo_id: str, filename: str) -> Path | None:
    try:
        import huggingface_hub

        found = huggingface_hub.try_to_load_from_cache(repo_id, filename)
    except Exception as error:  # a broken cache folder must not stop us: report "not found"
        log.debug("HF cache lookup of %s/%s failed: %s", repo_id, filename, error)
        return None
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None
