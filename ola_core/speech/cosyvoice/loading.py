"""Find, check and load the official CosyVoice2-0.5B model folder into our three modules.

The folder's files and their names are listed in :mod:`ola_core.speech.cosyvoice.files`.

Every ``torch.load`` uses ``weights_only=True``; a missing file raises ModelFilesMissingError and an
unreadable or mismatching one CorruptModelFileError, before any model is built where possible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase, Qwen2Config
from transformers.initialization import no_init_weights

from ola_core.errors import CorruptModelFileError, ModelFilesMissingError
from ola_core.speech.cosyvoice.config import CosyVoiceConfig, load_config
from ola_core.speech.cosyvoice.files import CONFIG_FILE_NAME, QWEN_DIR_NAME, SPEAKERS_FILE, missing_files
from ola_core.speech.cosyvoice.flow import FlowDecoder
from ola_core.speech.cosyvoice.hift import HiftVocoder
from ola_core.speech.cosyvoice.lm import SpeechTokenLM

__all__ = ["LoadedCosyVoice", "fold_weight_norm", "load_cosyvoice"]

log = logging.getLogger(__name__)

# Special tokens CosyVoice2 adds to the Qwen tokenizer; their ids are part of the trained model.
COSYVOICE2_SPECIAL_TOKENS = (
    "<|im_start|>", "<|im_end|>", "<|endofprompt|>", "[breath]", "<strong>", "</strong>", "[noise]",
    "[laughter]", "[cough]", "[clucking]", "[accent]", "[quick_breath]", "<laughter>", "</laughter>",
    "[hissing]", "[sigh]", "[vocalized-noise]", "[lipsmack]", "[mn]",
)  # fmt: skip


@dataclass
class LoadedCosyVoice:
    model_dir: Path
    config: CosyVoiceConfig
    lm: SpeechTokenLM
    flow: FlowDecoder
    hift: HiftVocoder
    tokenizer: PreTrainedTokenizerBase
    speakers: dict[str, dict[str, Tensor]]
    device: torch.device
    dtype: torch.dtype


def _load_tensors(path: Path) -> dict[str, Any]:
    try:
        try:  # mapped, not read: no second 2 GB copy in memory while the weights are copied over
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):  # a file in torch's legacy (non-zip) format cannot be mapped
                raise
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, pickle with code, not a torch file at all
        raise CorruptModelFileError(
            f"{path} cannot be read ({type(error).__name__}: {error}). The file is damaged or "
            "incomplete: download the CosyVoice2-0.5B model folder again."
        ) from error
    if not isinstance(data, dict):
        raise CorruptModelFileError(
            f"{path} does not hold a table of weights. Download the model folder again."
        )
    return data


def fold_weight_norm(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Replace weight-norm pairs (g, v) by the weight g·v/‖v‖ they stand for (norm over dims ≥ 1).

    Accepts both ways torch saves them: ``x.weight_g``/``x.weight_v`` (old ``weight_norm``) and
    ``x.parametrizations.weight.original0``/``original1`` (the parametrization API).
    """
    pairs = {
        ".weight_g": ".weight_v",
        ".parametrizations.weight.original0": ".parametrizations.weight.original1",
    }
    folded: dict[str, Tensor] = {}
    for key, value in state.items():
        for g_suffix, v_suffix in pairs.items():
            if key.endswith(g_suffix):
                stem = key[: -len(g_suffix)]
                v = state[stem + v_suffix]
                norm = v.norm(dim=tuple(range(1, v.dim())), keepdim=True)
                folded[stem + ".weight"] = value * v / norm
                break
            if key.endswith(v_suffix):
                break
        else:
            folded[key] = value
    return folded


def _load_module(module: nn.Module, state: dict[str, Tensor], path: Path) -> None:
    result = module.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("inv_freq")]
    if missing or result.unexpected_keys:
        raise CorruptModelFileError(
            f"{path} does not match {CONFIG_FILE_NAME} (missing {missing[:3]}, unexpected "
            f"{result.unexpected_keys[:3]}). The folder mixes files of different models: download it again."
        )


def load_tokenizer(model_dir: Path) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(model_dir / QWEN_DIR_NAME)
    tokenizer.add_special_tokens(
        {
            "eos_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>",
            "additional_special_tokens": list(COSYVOICE2_SPECIAL_TOKENS),
        }
    )
    return tokenizer


def load_speakers(model_dir: Path) -> dict[str, dict[str, Tensor]]:
    path = model_dir / SPEAKERS_FILE
    if not path.is_file():
        return {}
    raw = _load_tensors(path)
    speakers = {
        str(name): entry for name, entry in raw.items() if isinstance(entry, dict) and "embedding" in entry
    }
    return speakers


def load_cosyvoice(
    model_dir: Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    flow_dtype: torch.dtype | None = None,
) -> LoadedCosyVoice:
    """Build and fill the LM, flow decoder and vocoder from the official folder.

    ``dtype``: the LM and flow decoder's compute type (default fp32 on CPU, fp16 on CUDA as
    upstream's fp16 mode); ``flow_dtype`` the flow decoder's when it differs (the memory profiles
    keep the LM in bf16, whose range it needs, and the flow in fp16); the vocoder always runs in
    fp32 (its iSTFT needs it).
    """
    model_dir = Path(model_dir).expanduser()
    missing = missing_files(model_dir)
    if missing:
        raise ModelFilesMissingError(
            f"The CosyVoice2 model folder {model_dir} is incomplete: {', '.join(missing)} missing. "
            "Download FunAudioLLM/CosyVoice2-0.5B again (ola-assistant download) or choose another voice."
        )
    device = torch.device(device)
    dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
    config = load_config(model_dir)
    llm_state = _load_tensors(model_dir / "llm.pt")
    flow_state = _load_tensors(model_dir / "flow.pt")
    hift_state = fold_weight_norm(
        {k.removeprefix("generator."): v for k, v in _load_tensors(model_dir / "hift.pt").items()}
    )
    try:
        qwen_config = Qwen2Config.from_pretrained(model_dir / QWEN_DIR_NAME)
    except Exception as error:
        raise CorruptModelFileError(
            f"{model_dir / QWEN_DIR_NAME / 'config.json'} cannot be read ({error})."
        ) from error
    try:
        tokenizer = load_tokenizer(model_dir)
    except Exception as error:
        raise CorruptModelFileError(
            f"The tokenizer in {model_dir / QWEN_DIR_NAME} cannot be read ({error})."
        ) from error

    with no_init_weights():  # every LM weight comes from llm.pt: skip 0.5B random initialisations
        lm = SpeechTokenLM(qwen_config, config.lm)
    _load_module(
        lm,
        {
            ("qwen." + k[len("llm.model.") :] if k.startswith("llm.model.") else k): v
            for k, v in llm_state.items()
        },
        model_dir / "llm.pt",
    )
    flow = FlowDecoder(config.flow)
    _load_module(flow, flow_state, model_dir / "flow.pt")
    hift = HiftVocoder(config.hift)
    _load_module(hift, hift_state, model_dir / "hift.pt")
    return LoadedCosyVoice(
        model_dir=model_dir,
        config=config,
        lm=lm.to(device, dtype).eval(),
        flow=flow.to(device, flow_dtype or dtype).eval(),
        hift=hift.to(device).eval(),
        tokenizer=tokenizer,
        speakers=load_speakers(model_dir),
        device=device,
        dtype=dtype,
    )
