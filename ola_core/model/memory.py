"""How much memory Ola needs: the one estimate the loader checks and the setup advice shows.

Counted from the network itself (built on the meta device, so nothing is allocated): the LLM
layers at their quantized size, every other part in the model dtype, BEATs in fp32, plus a
runtime margin. The loader refuses to start when a CUDA device has less free memory than this;
the model store's hardware advice (``ola_core.model_store.hardware``) shows the same figure.
"""

from __future__ import annotations

from typing import Literal

import torch

from ola_core.errors import InsufficientMemoryError
from ola_core.model.configuration import OlaConfig
from ola_core.model.modeling import OlaForCausalLM

Quantization = Literal["none", "nf4", "int8"]

# Bytes per LLM-layer parameter once quantized (NF4: 4 bits + double-quantized absmax; int8: 1 B + scales).
_BYTES_PER_QUANTIZED_PARAM = {"nf4": 0.53, "int8": 1.02}
# Activations of the encoders (BEATs' fp32 attention maps dominate: ~0.1 GB per chunk), a few
# thousand tokens of KV cache (57 kB each at 7B) and allocator slack; the CUDA context is already
# outside the free memory that mem_get_info reports.
RUNTIME_MARGIN_BYTES = int(0.75 * 2**30)


def parameter_counts(config: OlaConfig) -> dict[str, int]:
    """Parameters per part (``llm_layers``, ``beats``, ``other``), counted on the meta device."""
    with torch.device("meta"):
        skeleton = OlaForCausalLM(config)
    counts = {"llm_layers": 0, "beats": 0, "other": 0}
    for name, param in skeleton.named_parameters():
        part = (
            "llm_layers"
            if name.startswith("model.layers.")
            else "beats"
            if ".beats_model." in name
            else "other"
        )
        counts[part] += param.numel()
    return counts


def estimate_memory_bytes(config: OlaConfig, quantization: Quantization, dtype: torch.dtype) -> int:
    """Weights after loading plus a runtime margin (activations, KV cache of a long turn)."""
    counts = parameter_counts(config)
    element = torch.tensor([], dtype=dtype).element_size()
    layers = counts["llm_layers"] * (
        _BYTES_PER_QUANTIZED_PARAM[quantization] if quantization != "none" else element
    )
    return int(layers + counts["other"] * element + counts["beats"] * 4 + RUNTIME_MARGIN_BYTES)


def check_memory(required_bytes: int, device: torch.device) -> None:
    """InsufficientMemoryError when a CUDA device has less free memory than ``required_bytes``."""
    if device.type != "cuda":
        return
    free, total = torch.cuda.mem_get_info(device)
    if required_bytes > free:
        gb = 2**30
        raise InsufficientMemoryError(
            f"Ola needs about {required_bytes / gb:.1f} GB of GPU memory with these settings, but only "
            f"{free / gb:.1f} of {total / gb:.1f} GB are free on {torch.cuda.get_device_name(device)}. "
            "Choose 4-bit (NF4) quantization in Settings → Model, or close other programs using the GPU."
        )
