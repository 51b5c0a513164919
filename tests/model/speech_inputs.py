"""Deterministic inputs of the speech fidelity fixtures (numpy's legacy RandomState is stable).

The reference harness, run outside the repository against the official Ola classes, built the
same arrays with this recipe; the fixtures hold only its outputs. Mels are random rather than
computed from the waveform: the encoders do not care where they come from, and the mel
front-end has its own tests in tests/processing.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
CHUNK_SAMPLES = 480000


def signal(seconds: float, seed: int) -> np.ndarray:
    """A tone, a slow chirp, amplitude modulation and a little noise: (samples,) float32."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    rs = np.random.RandomState(seed)
    x = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * (150.0 + 40.0 * t) * t)
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t)) + 0.05 * rs.standard_normal(n)
    return x.astype(np.float32)


def chunks(wav: np.ndarray) -> np.ndarray:
    """Consecutive 30 s chunks, the last zero-padded: (n, 480000) float32, as the official code cuts."""
    n = max(1, -(-len(wav) // CHUNK_SAMPLES))
    out = np.zeros((n, CHUNK_SAMPLES), np.float32)
    for i in range(n):
        piece = wav[i * CHUNK_SAMPLES : (i + 1) * CHUNK_SAMPLES]
        out[i, : len(piece)] = piece
    return out


def fake_mels(n: int, seed: int) -> np.ndarray:
    """(n, 3000, 128) float32 in the range of Whisper's normalised log-mels."""
    return np.random.RandomState(seed).uniform(-1.0, 1.5, size=(n, 3000, 128)).astype(np.float32)


def projector_params(in_dim: int, hidden: int, seed: int) -> dict[str, np.ndarray]:
    """Weights for the speech projector, ~N(0, 1/fan_in), keyed as its state dict."""
    rs = np.random.RandomState(seed)

    def mat(rows: int, cols: int) -> np.ndarray:
        return (rs.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    return {
        "linear1.weight": mat(2048, in_dim),
        "linear1.bias": (0.1 * rs.standard_normal(2048)).astype(np.float32),
        "linear2.weight": mat(hidden, 2048),
        "linear2.bias": (0.1 * rs.standard_normal(hidden)).astype(np.float32),
        "speech_newline": rs.standard_normal(hidden).astype(np.float32),
        "speech_begin": rs.standard_normal(hidden).astype(np.float32),
        "speech_end": rs.standard_normal(hidden).astype(np.float32),
    }
