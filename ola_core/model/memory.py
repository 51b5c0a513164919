"""How much memory Ola needs: the one estimate the loader checks and the setup advice shows.

Counted from the network itself, built on the meta device with the profile's module types
(:mod:`ola_core.model.profiles`), plus a runtime margin. The loader refuses to start when a CUDA device has less free memory than this;
the model store's hardware advice (``ola_core.model_store.hardware``) shows the same figure.
"""

from __future__ import annotations

from typing import Literal

import torch

from ola_core.errors import InsufficientMemoryError
from ola_core.model.configuration import OlaConfig
from ola_core.model.profiles import (
    ACTIVATION_BYTES,
    Profile,
    custom_profile,
    kv_bytes_per_token,
    ola_on_meta,
    part_bytes,
)

Quantization = Literal["none", "nf4", "int8"]

# Activations of the encoders, a few thousand tokens of KV cache and allocator slack beside the
# weights when no profile says otherwise; the CUDA context is already outside the free memory
# that mem_get_info reports.
RUNTIME_MARGIN_BYTES = int(0.75 * 2**30)


def estimate_memory_bytes(
    config: OlaConfig, quantization: Quantization, dtype: torch.dtype, profile: Profile | None = None
) -> int:
    """Ola's GPU weights as the loader will hold them, plus a runtime margin.

    The weights are counted from the real module types on the meta device
    (:func:`ola_core.model.profiles.part_bytes`): with ``profile``, its levers; without, only
    the LLM layers' ``quantization``. With a profile the margin is its activations and the KV cache
    of its target context.
    """
    if profile is None:
        gpu, _cpu = part_bytes(ola_on_meta(config, custom_profile(quantization), dtype))
        return sum(gpu.values()) + RUNTIME_MARGIN_BYTES
    gpu, _cpu = part_bytes(ola_on_meta(config, profile, dtype))
    kv = kv_bytes_per_token(config, dtype) * profile.target_context // 4  # a quarter filled at start
    return sum(gpu.values()) + ACTIVATION_BYTES.get(profile.name, RUNTIME_MARGIN_BYTES) + kv


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
