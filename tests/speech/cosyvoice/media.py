"""The cloning test clip, shared by the tests and ``tests/fixtures/cosyvoice/make_reference.py``.

Only numpy, so that the reference environment (upstream CosyVoice's) can import it too.
"""

from __future__ import annotations

import numpy as np


def clip(sample_rate: int, seconds: float = 3.0) -> np.ndarray:
    """A voiced-ish test signal: a gliding 120–240 Hz tone with harmonics plus a little noise."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    pitch = 120 + 40 * t
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    signal = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6))
    noise = np.random.RandomState(0).randn(len(t)) * 0.01
    return (signal + noise).astype(np.float32)
