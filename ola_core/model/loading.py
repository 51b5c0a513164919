"""Find, validate and load an Ola checkpoint: bf16/fp32, or the LLM layers in NF4 / int8.

What the official loader (ola/model/builder.py) does, minus its failure modes:
- the two speech-encoder files are looked for beside the checkpoint, in a sibling
  ``Ola_speech_encoders`` folder, in huggingface_hub's cache or at explicit paths — never at the
  paths written in config.json, which point into the authors' machines;
- every problem a user can meet (missing or truncated file, a folder that is not Ola, no CUDA,
  too little GPU memory) becomes an :class:`~ola_core.errors.OlaError` that says what to do,
  raised before anything large is read where possible;
- quantization works: bitsandbytes NF4 (double quant, bf16 compute) or int8 replaces only the
  language-model layers (``model.layers.*``); lm_head, the vision tower, the projectors and the
  speech encoders stay in the model dtype (BEATs fp32), as they are small and sensitive.
As officially, the vocabulary is resized to ``len(tokenizer)`` (this shrinks Ola's padded
152064-row matrices to the tokenizer's size) and the speech encoders' weights come from their
``.pt`` files with the official fp16 rounding.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import GenerationConfig, PreTrainedTokenizerBase

from ola_core.errors import (
    CorruptModelFileError,
    DeviceUnavailableError,
    InsufficientMemoryError,
    ModelFilesMissingError,
    NotAnOlaModelError,
)
from ola_core.model.configuration import OLA_MODEL_TYPE, OlaConfig
from ola_core.model.dual_encoder import DualSpeechEncoder
from ola_core.model.encoder_files import load_beats_state, load_whisper_encoder_state
from ola_core.model.locator import OLA_REPO, EncoderFiles, find_encoder_files, has_tokenizer
from ola_core.model.memory import Quantization, check_memory, estimate_memory_bytes
from ola_core.model.modeling import OlaForCausalLM, register_auto_classes
from ola_core.model.profiles import Profile, apply_profile
from ola_core.model.weight_files import check_safetensors, check_weights_fit_config

log = logging.getLogger(__name__)

DeviceChoice = Literal["auto", "cuda", "cpu"]
# progress(fraction in [0, 1], what is happening now)
ProgressCallback = Callable[[float, str], None]

# bitsandbytes replaces every nn.Linear not matched here; passing the list replaces transformers'
# default (["lm_head"]), so lm_head must be named too. transformers 5 matches a name from the start
# of the module path (or as a suffix), hence the full "model." prefixes.
QUANTIZATION_SKIP_MODULES = [
    "lm_head",
    "model.vision_tower",
    "model.mm_projector",
    "model.speech_projector",
    "model.speech_encoder",
]


@dataclass(frozen=True)
class LoadedOla:
    """A ready-to-run model with what generation needs beside it."""

    model: OlaForCausalLM
    tokenizer: PreTrainedTokenizerBase
    generation_config: GenerationConfig
    device: torch.device
    dtype: torch.dtype  # of the unquantized parts and of the input embeddings
    quantization: Quantization
    profile: Profile | None = None  # the memory profile whose levers were applied, if any


def load_ola(
    model_dir: str | Path,
    speech_encoder: str | Path | None = None,
    music_encoder: str | Path | None = None,
    quantization: Quantization = "none",
    device: DeviceChoice = "auto",
    dtype: torch.dtype | None = None,
    progress: ProgressCallback | None = None,
    profile: Profile | None = None,
) -> LoadedOla:
    """Load the Ola checkpoint in ``model_dir`` (official layout) for inference.

    ``speech_encoder`` / ``music_encoder`` name the Whisper ``large-v3.pt`` and BEATs files when
    they are not in one of the usual places. ``dtype`` (of every unquantized part, and the
    compute dtype of NF4 layers) defaults to bf16 on CUDA, the official dtype, and to fp32 on the
    CPU, where bf16 matmuls are emulated and many times slower on most processors.
    ``profile`` (:mod:`ola_core.model.profiles`): its levers replace ``quantization`` (the LLM
    layers take the profile's) and are applied once the weights are in.
    Raises an OlaError subclass for anything a user can fix.
    """
    report = progress or (lambda fraction, message: None)
    model_dir = Path(model_dir).expanduser()
    if profile is not None:
        quantization = profile.llm_layers
    if quantization not in ("none", "nf4", "int8"):
        raise ValueError(f"quantization must be 'none', 'nf4' or 'int8', not {quantization!r}")

    report(0.0, "Checking model files")
    register_auto_classes()  # AutoTokenizer reads config.json too and must know "ola_qwen"
    config = read_ola_config(model_dir)
    tensors = check_safetensors(model_dir)
    encoders = find_encoder_files(model_dir, speech_encoder, music_encoder)
    if not has_tokenizer(model_dir):
        raise ModelFilesMissingError(
            f"The tokenizer of {model_dir} is missing (tokenizer.json, or vocab.json + merges.txt): "
            f"download {OLA_REPO} again."
        )
    # Every size comes from the files before any module is built: the encoders' from their
    # files (as officially; memory-mapped, so cheap), the rest checked against the shard headers.
    config.speech_whisper_dims, _ = load_whisper_encoder_state(encoders.whisper)
    config.speech_beats_cfg, _ = load_beats_state(encoders.beats)
    check_weights_fit_config(config, tensors, model_dir)
    target = resolve_device(device)
    dtype = dtype or (torch.bfloat16 if target.type == "cuda" else torch.float32)
    check_memory(estimate_memory_bytes(config, quantization, dtype, profile), target)

    report(0.05, "Loading tokenizer")
    tokenizer = _load_tokenizer(model_dir, config)

    report(0.1, f"Loading language model ({_describe(quantization, dtype)})")
    with _weights_progress(report, 0.1, 0.85):
        model = _load_model(model_dir, config, quantization, dtype, target)

    report(0.85, "Loading speech encoders")
    _install_speech_encoder(model, config, encoders, dtype, target)

    report(0.95, "Preparing generation")
    model.resize_token_embeddings(len(tokenizer))
    model.config.vocab_size = len(tokenizer)
    if profile is not None:
        apply_profile(model, profile, target, dtype)
    model.eval()
    generation_config = _load_generation_config(model_dir)
    model.generation_config = generation_config
    report(1.0, "Model ready")
    return LoadedOla(model, tokenizer, generation_config, target, dtype, quantization, profile)


# --- files -----------------------------------------------------------------------------------------


def read_ola_config(model_dir: Path) -> OlaConfig:
    """The folder's config.json as OlaConfig; NotAnOlaModelError unless it is an Ola checkpoint."""
    config_path = model_dir / "config.json"
    if not model_dir.is_dir():
        raise ModelFilesMissingError(
            f"The model folder {model_dir} does not exist. Download {OLA_REPO} (Settings → Model) "
            "or choose the folder that holds it."
        )
    if not config_path.is_file():
        raise ModelFilesMissingError(
            f"{config_path} is missing, so {model_dir} is not a complete Ola-7b checkpoint: "
            f"download {OLA_REPO} again or choose the right folder."
        )
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise CorruptModelFileError(
            f"{config_path} is not valid JSON ({error}): download it again."
        ) from error
    if not isinstance(raw, dict):
        raise CorruptModelFileError(f"{config_path} is not a JSON object: download it again.")
    model_type = raw.get("model_type")
    if model_type != OLA_MODEL_TYPE or "mm_projector_type" not in raw or "speech_encoder_type" not in raw:
        raise NotAnOlaModelError(
            f"{model_dir} holds a {model_type or 'unknown'!s} model, not Ola (config.json must say "
            f'model_type "{OLA_MODEL_TYPE}" and have the vision and speech settings). Choose the '
            f"{OLA_REPO} folder."
        )
    if raw.get("mm_projector_type") != "ola_mlp" or raw.get("speech_encoder_type") != "dual":
        raise NotAnOlaModelError(
            f"{model_dir} is an Ola variant this app does not support (projector "
            f"{raw.get('mm_projector_type')!r}, speech encoder {raw.get('speech_encoder_type')!r}); "
            f"use {OLA_REPO}."
        )
    if raw.get("rope_scaling") is None:  # written as null officially; transformers 5 warns on the key
        raw.pop("rope_scaling", None)
    return OlaConfig.from_dict(raw)


def _load_tokenizer(model_dir: Path, config: OlaConfig) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    try:  # passing the config spares AutoTokenizer a second, noisier parse of config.json
        tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(str(model_dir), config=config)
    except (OSError, ValueError, json.JSONDecodeError) as error:
        raise CorruptModelFileError(
            f"The tokenizer files in {model_dir} cannot be read ({error}): download {OLA_REPO} again."
        ) from error
    return tokenizer


def _load_generation_config(model_dir: Path) -> GenerationConfig:
    """generation_config.json (official sampling defaults); Ola's values if the file is absent."""
    if (model_dir / "generation_config.json").is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. its "attn_implementation" key is not a generation option
            return GenerationConfig.from_pretrained(str(model_dir))
    return GenerationConfig(
        bos_token_id=151643,
        eos_token_id=[151645, 151643],
        pad_token_id=151643,
        do_sample=True,
        repetition_penalty=1.05,
        temperature=0.7,
        top_k=20,
        top_p=0.8,
    )


# --- device and memory ----------------------------------------------------------------------------


def resolve_device(device: DeviceChoice) -> torch.device:
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            "A CUDA GPU was requested but none is available (no NVIDIA GPU, driver or CUDA build of "
            "PyTorch). Choose the CPU in Settings → Model, or install the NVIDIA driver."
        )
    if device not in ("auto", "cuda"):
        raise ValueError(f"device must be 'auto', 'cuda' or 'cpu', not {device!r}")
    return (
        torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_available()
        else torch.device("cpu")
    )


# --- model -----------------------------------------------------------------------------------------


class _ReportingBar:
    """Wraps transformers' "Loading weights" progress bar; reports its position as a fraction."""

    def __init__(self, bar: Any, total: int, report: ProgressCallback, start: float, end: float) -> None:
        self._bar, self._total = bar, max(total, 1)
        self._report, self._start, self._end = report, start, end

    def __iter__(self) -> Iterator[Any]:
        step = max(self._total // 50, 1)  # about 50 reports
        for i, item in enumerate(self._bar, start=1):
            yield item
            if i % step == 0 or i == self._total:
                fraction = self._start + (self._end - self._start) * min(i / self._total, 1.0)
                self._report(fraction, f"Loading weights ({i}/{self._total} tensors)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bar, name)


@contextmanager
def _weights_progress(report: ProgressCallback, start: float, end: float) -> Iterator[None]:
    """Route transformers' weight-loading progress bar to ``report`` while loading."""
    from transformers.utils import logging as hf_logging

    def hook(factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        bar = factory(*args, **kwargs)
        iterable = args[0] if args else kwargs.get("iterable")
        if kwargs.get("desc") != "Loading weights" or not isinstance(iterable, Sized):
            return bar
        return _ReportingBar(bar, len(iterable), report, start, end)

    previous = hf_logging.set_tqdm_hook(hook)
    try:
        yield
    finally:
        hf_logging.set_tqdm_hook(previous)


def _describe(quantization: Quantization, dtype: torch.dtype) -> str:
    return {"none": str(dtype).removeprefix("torch."), "nf4": "4-bit NF4", "int8": "8-bit"}[quantization]


def quantization_config(quantization: Quantization, compute_dtype: torch.dtype = torch.bfloat16) -> Any:
    """The bitsandbytes settings for ``quantization`` (None for "none"); NF4 computes in ``compute_dtype``."""
    if quantization == "none":
        return None
    from transformers import BitsAndBytesConfig

    if quantization == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
            llm_int8_skip_modules=QUANTIZATION_SKIP_MODULES,
        )
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=QUANTIZATION_SKIP_MODULES)


def _load_model(
    model_dir: Path, config: OlaConfig, quantization: Quantization, dtype: torch.dtype, device: torch.device
) -> OlaForCausalLM:
    if quantization == "int8":
        # bitsandbytes logs a cast warning per layer and call on CPU; it is expected.
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        model = OlaForCausalLM.from_pretrained(
            str(model_dir),
            config=config,
            dtype=dtype,
            device_map={"": device},
            quantization_config=quantization_config(quantization, dtype),
        )
    except torch.cuda.OutOfMemoryError as error:
        raise InsufficientMemoryError(
            f"The GPU ran out of memory while loading Ola ({_describe(quantization, dtype)}). "
            "Choose 4-bit (NF4) quantization, or close other programs using the GPU."
        ) from error
    except (OSError, RuntimeError, ValueError) as error:
        if (
            "safetensor" in str(error).lower()
            or "size mismatch" in str(error).lower()
            or "header" in str(error).lower()
        ):
            raise CorruptModelFileError(
                f"The weights in {model_dir} cannot be loaded ({str(error)[:300]}). Download {OLA_REPO} again."
            ) from error
        raise
    if not isinstance(model, OlaForCausalLM):  # from_pretrained's return type is loose
        raise TypeError(f"expected OlaForCausalLM, got {type(model).__name__}")
    return model


def _install_speech_encoder(
    model: OlaForCausalLM, config: OlaConfig, encoders: EncoderFiles, dtype: torch.dtype, device: torch.device
) -> None:
    """Replace the safetensors' encoder copy with the official files' weights (builder.py:70-71).

    The new encoder is built on the CPU and the old one dropped before moving it, so the GPU
    never holds two copies.
    """
    encoder = DualSpeechEncoder.from_files(
        config, encoders.whisper, encoders.beats, dtype=dtype, device="cpu"
    )
    model.model.speech_encoder = encoder  # frees the copy loaded from the safetensors
    if device.type == "cuda":
        torch.cuda.empty_cache()
    encoder.to(device)
