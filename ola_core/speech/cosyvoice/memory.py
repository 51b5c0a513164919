"""What CosyVoice2-0.5B weighs on the GPU at given dtypes, counted on the meta device from our modules."""

from __future__ import annotations

import torch

from ola_core.model.levers import parameter_bytes


def cosyvoice_bytes(lm_dtype: torch.dtype, flow_dtype: torch.dtype) -> dict[str, int]:
    """CosyVoice2-0.5B's LM, flow and HiFT at their profile dtypes (HiFT stays fp32: its iSTFT needs it)."""
    from transformers import Qwen2Config

    from ola_core.speech.cosyvoice.config import parse_config
    from ola_core.speech.cosyvoice.flow import FlowDecoder
    from ola_core.speech.cosyvoice.hift import HiftVocoder
    from ola_core.speech.cosyvoice.lm import SpeechTokenLM
    from ola_core.speech.cosyvoice.tiny import _YAML, FULL_QWEN, FULL_SIZES

    config = parse_config(_YAML.format(hidden=FULL_QWEN["hidden_size"], **FULL_SIZES))
    with torch.device("meta"):
        parts = {
            "cosyvoice_lm": SpeechTokenLM(Qwen2Config(**FULL_QWEN), config.lm).to(lm_dtype),
            "cosyvoice_flow": FlowDecoder(config.flow).to(flow_dtype),
            "cosyvoice_hift": HiftVocoder(config.hift),
        }
    seen: set[int] = set()
    return {name: sum(parameter_bytes(m, seen) for m in module.modules()) for name, module in parts.items()}
