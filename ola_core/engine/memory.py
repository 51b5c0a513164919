"""Memory of a turn: peak use (VRAM on CUDA, resident set on CPU), out-of-memory detection, KV sizes.

On CUDA, torch's allocator keeps its own peak counter, reset at the start of each turn. On CPU
there is no resettable peak for a process, so the engine samples the resident set size at the
points where it peaks (after encoders, after prefill, every decode step) — cheap on Linux
(/proc/self/statm), and ``ru_maxrss`` (a lifetime peak) elsewhere.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Literal

import torch
from transformers.cache_utils import Cache, DynamicLayer

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int | None:
    """Resident set size of this process now; on systems without /proc the lifetime peak."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class PeakMemory:
    """Peak memory over one turn on ``device``."""

    def __init__(self, device: torch.device) -> None:
        self.kind: Literal["cuda", "rss"] = "cuda" if device.type == "cuda" else "rss"
        self._device = device
        self._peak: int | None = None
        if self.kind == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        else:
            self.sample()

    def sample(self) -> None:
        if self.kind == "rss":
            rss = current_rss_bytes()
            if rss is not None:
                self._peak = rss if self._peak is None else max(self._peak, rss)

    @property
    def peak_bytes(self) -> int | None:
        if self.kind == "cuda":
            return int(torch.cuda.max_memory_allocated(self._device))
        return self._peak


def is_out_of_memory(error: BaseException) -> bool:
    """True for torch's (CUDA) out-of-memory error and for a CPU allocation failure."""
    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


def free_memory(device: torch.device) -> None:
    """Give memory freed by Python back to the device (after an OOM, or a reset)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def truncate_cache(cache: Cache, length: int) -> None:
    """Cut every layer of ``cache`` back to ``length`` positions.

    Layer by layer, because an error in the middle of a forward leaves the first layers one step
    longer than the rest; ``Cache.crop`` assumes they all agree.
    """
    for layer in cache.layers:
        if not isinstance(layer, DynamicLayer):
            raise TypeError(f"cannot truncate a {type(layer).__name__}; the engine builds DynamicCache only")
        size = layer.get_seq_length()
        if size > length:
            layer.crop(length - size)
