"""The media tensors of the fidelity fixtures, regenerated from a seed (numpy's legacy RandomState).

The reference harness (run outside the repository against the official Ola classes) fed the same
arrays, made by this recipe, to the official model; the fixtures store only the outputs and a
checksum of these inputs, so the tests can prove they fed the very same numbers.
Pixel values are already normalised ([-1, 1]); mels are random rather than computed from the
wav because the model does not care where they come from (preprocessing has its own tests).
"""

from __future__ import annotations

import math

import numpy as np

SEED = 20250613
IMAGE_LOWRES_SHAPE = (3, 64, 96)  # → 2×3 pooled grid
IMAGE_HIGHRES_SHAPE = (3, 128, 160)  # → 4×5 pooled grid
VIDEO_SHAPE = (3, 3, 64, 128)  # 3 frames → 2×4 pooled grid each
AUDIO_SECONDS = 5
CHUNK_SAMPLES = 480000


def make_media(seed: int = SEED) -> dict[str, np.ndarray]:
    """image_lowres, image_highres, video (T,3,H,W), mels (1,3000,128), wavs (1,480000): float32."""
    rs = np.random.RandomState(seed)
    media = {
        "image_lowres": rs.uniform(-1, 1, IMAGE_LOWRES_SHAPE),
        "image_highres": rs.uniform(-1, 1, IMAGE_HIGHRES_SHAPE),
        "video": rs.uniform(-1, 1, VIDEO_SHAPE),
        "mels": rs.standard_normal((1, 3000, 128)) * 0.5,
    }
    wavs = np.zeros((1, CHUNK_SAMPLES))
    wavs[0, : AUDIO_SECONDS * 16000] = rs.standard_normal(AUDIO_SECONDS * 16000) * 0.1
    media["wavs"] = wavs
    return {name: array.astype(np.float32) for name, array in media.items()}


def checksum(media: dict[str, np.ndarray]) -> dict[str, float]:
    """Exact (fsum) sum and sum of squares per array: enough to notice any different input."""
    out = {}
    for name, array in sorted(media.items()):
        values = array.astype(np.float64).ravel()
        out[f"{name}_sum"] = math.fsum(values)
        out[f"{name}_sumsq"] = math.fsum(values * values)
    return out
