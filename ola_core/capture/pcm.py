"""The PCM format everything in capture hands out (16 kHz mono int16) and level measurement."""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000  # Hz; what webrtcvad, Whisper and Ola's speech encoders take
SILENCE_DBFS = -100.0  # floor for digital silence (log of zero)


def level_dbfs(pcm: np.ndarray) -> tuple[float, float]:
    """RMS and peak level of int16 (or float in [-1, 1]) samples in dBFS, floored at ``SILENCE_DBFS``."""
    if pcm.size == 0:
        return SILENCE_DBFS, SILENCE_DBFS
    x = pcm.astype(np.float32)
    if pcm.dtype == np.int16:
        x /= 32768.0
    rms = float(np.sqrt(np.mean(x * x)))
    peak = float(np.max(np.abs(x)))
    floor = 10 ** (SILENCE_DBFS / 20)
    return 20 * np.log10(max(rms, floor)), 20 * np.log10(max(peak, floor))


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16, clipped (resampler overshoot must not wrap around)."""
    return np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16)
