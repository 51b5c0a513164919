"""The CosyVoice2-0.5B folder: its repository, its file names, and where it is looked for.

The one home of these names: the runtime loads from them, the tiny-folder writer writes them and
the model store (download and setup) takes them from here. Nothing here imports torch, so the
GUI's model store can read it cheaply.

Files (as ``FunAudioLLM/CosyVoice2-0.5B`` ships them)::

    cosyvoice2.yaml          numbers only (config.py)
    llm.pt, flow.pt, hift.pt state dicts of the three networks (loading.py)
    spk2info.pt              optional: built-in / saved voices
    CosyVoice-BlankEN/       Qwen2-0.5B config.json + tokenizer (its weights are not read)
    campplus.onnx, speech_tokenizer_v2.onnx   only for cloning a voice from a clip
"""

from __future__ import annotations

from pathlib import Path

COSYVOICE_REPO = "FunAudioLLM/CosyVoice2-0.5B"
COSYVOICE_DIR_NAME = "CosyVoice2-0.5B"  # its folder beside Ola-7b/ and Ola_speech_encoders/
CONFIG_FILE_NAME = "cosyvoice2.yaml"  # its presence marks a CosyVoice2 snapshot in the HF cache
QWEN_DIR_NAME = "CosyVoice-BlankEN"
REQUIRED_FILES = (CONFIG_FILE_NAME, "llm.pt", "flow.pt", "hift.pt", f"{QWEN_DIR_NAME}/config.json")
SPEAKERS_FILE = "spk2info.pt"
CLONING_FILES = ("campplus.onnx", "speech_tokenizer_v2.onnx")


def is_needed_file(relative_path: str) -> bool:
    """Whether our runtime uses this file of the CosyVoice2-0.5B repository (for the downloader).

    Not needed: CosyVoice-BlankEN's 1 GB of Qwen weights (llm.pt holds them all), TorchScript /
    TensorRT / ONNX exports of the flow decoder (``flow.*.zip``, ``flow.decoder.estimator.*``),
    vLLM exports, the READMEs and example audio.
    """
    name = relative_path.replace("\\", "/")
    if name.startswith(f"{QWEN_DIR_NAME}/"):
        return not name.endswith((".safetensors", ".bin", ".pt", ".md"))
    return name in {*REQUIRED_FILES, SPEAKERS_FILE, *CLONING_FILES}


def missing_files(model_dir: Path) -> list[str]:
    """Required files absent from ``model_dir`` (empty when the folder is complete)."""
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    qwen = model_dir / QWEN_DIR_NAME
    if not (qwen / "tokenizer.json").is_file() and not (qwen / "vocab.json").is_file():
        missing.append(f"{QWEN_DIR_NAME}/tokenizer.json (or vocab.json + merges.txt)")
    return missing


def is_complete(model_dir: Path) -> bool:
    return model_dir.is_dir() and not missing_files(model_dir)


def cached_dir(cache_dir: Path | None = None) -> Path | None:
    """The complete CosyVoice2 snapshot in huggingface_hub's cache, if any (no network)."""
    import huggingface_hub

    found = huggingface_hub.try_to_load_from_cache(COSYVOICE_REPO, CONFIG_FILE_NAME, cache_dir=cache_dir)
    snapshot = Path(found).parent if isinstance(found, str) else None
    return snapshot if snapshot is not None and is_complete(snapshot) else None


def find_beside(model_folder: Path) -> Path | None:
    """A complete CosyVoice2 folder next to the Ola files: in ``model_folder`` or beside it."""
    for candidate in (model_folder / COSYVOICE_DIR_NAME, model_folder.parent / COSYVOICE_DIR_NAME):
        if is_complete(candidate):
            return candidate
    return None
