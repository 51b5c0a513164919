"""What this machine can run: the GPU, its free memory, and the setup's advice.

The figures are the model's own memory estimate (:func:`ola_core.model.memory.estimate_memory_bytes`,
the one the loader checks before it loads) for the full-size Ola-7B, plus what runs beside it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Literal

from ola_core.settings import Quantization

log = logging.getLogger(__name__)

# Beside the model's own estimate: the CUDA context (outside the free memory the loader checks,
# but part of what the GPU must hold), and CosyVoice2 when it speaks.
CUDA_CONTEXT_GB = 1.2
COSYVOICE_GB = 1.5


@dataclass(frozen=True)
class Hardware:
    cuda: bool
    gpu_name: str | None = None
    total_gb: float = 0.0
    free_gb: float = 0.0


@dataclass(frozen=True)
class Recommendation:
    """What setup proposes for this machine, with the reasons it shows to the user."""

    device: Literal["cuda", "cpu"]
    quantization: Quantization
    footprint_gb: float  # estimated GPU memory in use while answering
    fits: bool
    message: str
    offer_test_model: bool
    profile: str = "24gb"  # the memory profile (ola_core.model.profiles) picked from the free memory


def detect_hardware() -> Hardware:
    """GPU name and memory; never raises (a broken driver reads as "no GPU").

    It also computes the model's memory figures, so that :func:`recommend` afterwards costs
    nothing on the caller's thread (the setup dialog runs this in a worker, recommend on the GUI).
    """
    try:
        for quantization in ("none", "nf4", "int8"):
            model_gb(quantization)
    except Exception as error:  # advice must never stop the setup dialog; recommend retries
        log.warning("memory estimate failed: %s", error)
    try:
        import torch

        if not torch.cuda.is_available():
            return Hardware(cuda=False)
        free, total = torch.cuda.mem_get_info()
        return Hardware(True, torch.cuda.get_device_name(0), total / 1e9, free / 1e9)
    except Exception as error:  # a CUDA init failure must not stop the setup dialog
        log.warning("GPU check failed: %s", error)
        return Hardware(cuda=False)


def cpu_ram_gb() -> float:
    """RAM Ola-7B needs on the CPU (bf16): the one figure every screen and command shows.

    The voice is not counted: on the CPU the choice of voice is the user's later, and counting
    it made the command line (no CosyVoice) and the setup dialog (CosyVoice) disagree.
    """
    return footprint_gb("none", with_cosyvoice=False)


def footprint_gb(quantization: Quantization, with_cosyvoice: bool = True) -> float:
    """GB in use while answering with Ola-7B (bf16 unless quantized), the voice optional."""
    return model_gb(quantization) + CUDA_CONTEXT_GB + (COSYVOICE_GB if with_cosyvoice else 0.0)


@functools.cache
def model_gb(quantization: Quantization) -> float:
    """The loader's estimate for the full-size model in bf16 (or with quantized LLM layers), in GB.

    Counted on the meta device (a few seconds the first time, then cached): torch and
    transformers load only when advice is asked for.
    """
    import torch

    from ola_core.model.configuration import OlaConfig
    from ola_core.model.memory import estimate_memory_bytes

    return estimate_memory_bytes(OlaConfig(), quantization, torch.bfloat16) / 1e9


def recommend(hardware: Hardware, with_cosyvoice: bool = True) -> Recommendation:
    """NF4 by default; bf16 only where it fits with room to spare (it is faster than bnb 4-bit)."""
    if not hardware.cuda:
        need = cpu_ram_gb()
        return Recommendation(
            device="cpu",
            quantization="none",
            footprint_gb=need,
            fits=False,
            message=(
                "No CUDA GPU found. Ola-7B would run on the CPU: it needs about "
                f"{need:.0f} GB of RAM and takes minutes per answer, too slow for a conversation. "
                "You can still try the whole app with the interface-test model (tiny, random weights)."
            ),
            offer_test_model=True,
        )
    from ola_core.model.profiles import describe, pick_profile

    profile = pick_profile(int(hardware.free_gb * 1e9))
    gpu = f"{describe(profile, hardware.gpu_name, hardware.total_gb)} ({hardware.free_gb:.1f} GB free)"
    bf16 = footprint_gb("none", with_cosyvoice)
    if hardware.free_gb >= bf16 + 2.0:
        return Recommendation(
            "cuda", "none", bf16, True, f"{gpu}: full precision (bf16) fits, ≈ {bf16:.0f} GB.", False,
            profile.name,
        )  # fmt: skip
    nf4 = footprint_gb("nf4", with_cosyvoice)
    if hardware.free_gb >= nf4:
        return Recommendation(
            "cuda", "nf4", nf4, True, f"{gpu}: 4-bit NF4 recommended, ≈ {nf4:.1f} GB.", False, profile.name
        )
    return Recommendation(
        device="cuda",
        quantization="nf4",
        footprint_gb=nf4,
        fits=False,
        message=(
            f"{gpu}: even 4-bit NF4 needs ≈ {nf4:.1f} GB. Close other GPU programs, turn CosyVoice "
            "off (the fallback voice runs on the CPU) or lower the frames per turn."
        ),
        offer_test_model=True,
        profile=profile.name,
    )
