"""Deterministic test media, shared by the tests and the out-of-repo fidelity harness.

The harness (run in the official code's environment) imports this module from the repository,
feeds the same images, sounds and frames to the official preprocessing and stores the results
as fixtures; the tests regenerate the inputs here and compare. Only numpy and Pillow are used, so
both environments can import it. Every input's sha256 is stored with the fixtures, so a change
of this generator shows up as such and not as a processing mismatch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

# name → (width, height, PIL mode): odd sizes, a > 1536² area, the 1536² boundary, tiny,
# extreme aspect ratios, alpha, greyscale and palette.
IMAGE_CASES: dict[str, tuple[int, int, str]] = {
    "vga_640x480": (640, 480, "RGB"),
    "odd_333x517": (333, 517, "RGB"),
    "large_2000x1500": (2000, 1500, "RGB"),
    "boundary_1536x1536": (1536, 1536, "RGB"),
    "above_1537x1536": (1537, 1536, "RGB"),
    "tiny_17x9": (17, 9, "RGB"),
    "wide_3000x40": (3000, 40, "RGB"),
    "tall_40x5000": (40, 5000, "RGB"),
    "alpha_301x203": (301, 203, "RGBA"),
    "grey_250x250": (250, 250, "L"),
    "palette_160x90": (160, 90, "P"),
}

# name → (width, height) of video frames: 1080p (shrink), 480² area exactly (pad), small
# (enlarge), tall (pad) and an odd size.
FRAME_CASES: dict[str, tuple[int, int]] = {
    "fhd_1920x1080": (1920, 1080),
    "area480_640x360": (640, 360),
    "small_320x240": (320, 240),
    "tall_100x2000": (100, 2000),
    "odd_477x301": (477, 301),
}
FRAMES_PER_CASE = 3

# name → (seconds, sample rate, channels, soundfile subtype) of audio files.
AUDIO_CASES: dict[str, tuple[float, int, int, str]] = {
    "speechlike_5s_44k_stereo": (5.0, 44_100, 2, "PCM_16"),
    "speechlike_70s_22k_mono": (70.0, 22_050, 1, "FLOAT"),
}


def sha256(array: np.ndarray) -> str:
    """Hash of the exact bytes (C order), dtype and shape included."""
    contiguous = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{contiguous.dtype.str}{contiguous.shape}".encode())
    digest.update(contiguous.tobytes())
    return digest.hexdigest()


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def rgb_pattern(width: int, height: int, seed: int) -> np.ndarray:
    """(height, width, 3) uint8: gradients, stripes and noise, so that resampling filters matter."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = [
        128 + 100 * np.sin(x / (3 + width / 40) + phase) * np.cos(y / (5 + height / 30) - phase)
        for phase in (0.0, 1.3, 2.6)
    ]
    base = np.stack(channels, axis=-1) + rng.integers(-20, 21, size=(height, width, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def make_image(name: str) -> Image.Image:
    """The test image ``name`` of :data:`IMAGE_CASES`, in its PIL mode."""
    width, height, mode = IMAGE_CASES[name]
    rgb = rgb_pattern(width, height, _seed(name))
    if mode == "RGB":
        return Image.fromarray(rgb)
    if mode == "RGBA":
        y, x = np.mgrid[0:height, 0:width]
        alpha = ((x * 255) // max(width - 1, 1)).astype(np.uint8)
        alpha[y < height // 4] = 0  # a fully transparent band (hidden colours stay in the file)
        return Image.fromarray(np.dstack([rgb, alpha]))
    if mode == "L":
        return Image.fromarray(np.ascontiguousarray(rgb[..., 0]))
    if mode == "P":
        return Image.fromarray(rgb).quantize(
            colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    raise ValueError(mode)


def make_frames(name: str) -> list[np.ndarray]:
    """:data:`FRAMES_PER_CASE` RGB frames (height, width, 3) uint8 of the frame case ``name``."""
    width, height = FRAME_CASES[name]
    return [rgb_pattern(width, height, _seed(f"{name}/{i}")) for i in range(FRAMES_PER_CASE)]


def audio_samples(seconds: float, rate: int, channels: int, seed: int) -> np.ndarray:
    """(n, channels) float32 in [-0.6, 0.6]: a gliding tone with harmonics, bursts and noise.

    Loud and quiet stretches alternate, so the (max − 8) floor of the log-mel matters.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    pitch = 140 + 60 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 1.7 * t) ** 2
    gate = (np.sin(2 * np.pi * 0.11 * t) > -0.6).astype(np.float64)
    signal = 0.18 * voiced * envelope * gate
    out = np.empty((n, channels), dtype=np.float64)
    for c in range(channels):
        out[:, c] = signal * (1.0 - 0.3 * c) + 0.01 * rng.standard_normal(n)
    return np.clip(out, -0.6, 0.6).astype(np.float32)


def write_audio(name: str, directory: Path) -> Path:
    """Write the audio case ``name`` of :data:`AUDIO_CASES` as a WAV file and return its path."""
    import soundfile

    seconds, rate, channels, subtype = AUDIO_CASES[name]
    path = Path(directory) / f"{name}.wav"
    soundfile.write(path, audio_samples(seconds, rate, channels, _seed(name)), rate, subtype=subtype)
    return path
