"""Synthetic voiced signals for the end-of-turn tests: harmonic tones with a known pitch contour.

A sum of harmonics (1/k amplitudes, like a glottal source) is periodic at its fundamental, which
both webrtcvad and the pitch tracker take for voice; its pitch is known exactly, sample by sample.
"""

from __future__ import annotations

import numpy as np

from ola_core.capture.pcm import SAMPLE_RATE, to_int16


def harmonic(f0_start: float, f0_end: float, seconds: float, n_harmonics: int = 12) -> np.ndarray:
    """A voiced tone gliding geometrically (evenly in semitones) from ``f0_start`` to ``f0_end`` Hz.

    Float32 at 16 kHz, peak 0.3, with 20 ms fades so that the edges are not clicks.
    """
    n = int(seconds * SAMPLE_RATE)
    f0 = np.geomspace(f0_start, f0_end, n)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    x = sum(np.sin(k * phase) / k for k in range(1, n_harmonics + 1) if k * f0.max() < SAMPLE_RATE / 2)
    ramp = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.02 * SAMPLE_RATE))
    return (0.3 * x / np.max(np.abs(x)) * ramp).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    """Digital silence, float32 (the caller adds the room's noise floor)."""
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


def with_noise(parts: list[np.ndarray], noise_dbfs: float = -50.0, seed: int = 0) -> np.ndarray:
    """The parts one after the other over a faint white noise floor, as int16 PCM."""
    x = np.concatenate(parts)
    rng = np.random.default_rng(seed)
    return to_int16(x + rng.normal(0, 10 ** (noise_dbfs / 20), len(x)).astype(np.float32))
