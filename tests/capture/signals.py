"""Test signals for the capture tests: real speech from espeak-ng, noise at a chosen SNR, clicks.

The true speech positions come from the CLEAN signal's energy envelope (10 ms frames within
40 dB of the loudest), never from the detector under test.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from ola_core.capture.pcm import SAMPLE_RATE, to_int16

SENTENCES = (
    "Hello there, could you tell me what you see on my screen right now?",
    "Please read the second line of this document aloud.",
)


@functools.cache
def espeak(text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng: float32 mono at 16 kHz, peak-normalised to 0.5."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (scripts/test.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
        audio, rate = soundfile.read(path, dtype="float32")
    audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    return 0.5 * audio / np.max(np.abs(audio))


def active_span(clean: np.ndarray, floor_db: float = 40.0, noise_power: float = 0.0) -> tuple[float, float]:
    """(start, end) in seconds of the part of ``clean`` within ``floor_db`` of its loudest 10 ms frame.

    With ``noise_power`` the floor rises to the noise level: speech quieter than the noise it is
    mixed with is not a position any detector can know.
    """
    hop = SAMPLE_RATE // 100
    frames = clean[: len(clean) // hop * hop].reshape(-1, hop)
    power = np.mean(frames.astype(np.float64) ** 2, axis=1)
    active = np.flatnonzero(power > max(power.max() * 10 ** (-floor_db / 10), noise_power))
    return active[0] * hop / SAMPLE_RATE, (active[-1] + 1) * hop / SAMPLE_RATE


@dataclass(frozen=True)
class Scene:
    pcm: np.ndarray  # (n,) int16
    spans: list[tuple[float, float]]  # true speech (start, end) in seconds from the first sample


def scene(
    parts: list[str | float], snr_db: float | None = None, seed: int = 0, noise_dbfs: float = -50.0
) -> Scene:
    """Concatenate sentences (str) and silences (float seconds); add white noise at ``snr_db``.

    Without ``snr_db`` a faint noise floor (``noise_dbfs``) stands in for a real room: digital
    silence is not what a microphone hears.
    """
    rng = np.random.default_rng(seed)
    sentences = [espeak(p) for p in parts if isinstance(p, str)]
    if snr_db is not None:
        speech = np.concatenate(
            [a[slice(*(int(t * SAMPLE_RATE) for t in active_span(a)))] for a in sentences]
        )
        sigma = float(np.sqrt(np.mean(speech**2) / 10 ** (snr_db / 10)))
    else:
        sigma = 10 ** (noise_dbfs / 20)
    chunks: list[np.ndarray] = []
    spans = []
    pos = 0
    for part in parts:
        if isinstance(part, str):
            audio = espeak(part)
            s, e = active_span(audio, noise_power=sigma**2)
            spans.append(((pos / SAMPLE_RATE) + s, (pos / SAMPLE_RATE) + e))
        else:
            audio = np.zeros(int(part * SAMPLE_RATE), np.float32)
        chunks.append(audio)
        pos += len(audio)
    x = np.concatenate(chunks)
    x = x + rng.normal(0, sigma, len(x)).astype(np.float32)
    return Scene(to_int16(x), spans)


def clicks(seconds: float, every_s: float = 0.7, seed: int = 0) -> np.ndarray:
    """Faint noise with loud 5 ms clicks (keyboard, mouse) every ``every_s`` seconds, int16."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 10 ** (-50 / 20), int(seconds * SAMPLE_RATE)).astype(np.float32)
    n = int(0.005 * SAMPLE_RATE)
    for start in np.arange(0.3, seconds - 0.1, every_s):
        i = int(start * SAMPLE_RATE)
        x[i : i + n] += rng.uniform(-0.8, 0.8, n) * np.hanning(n)
    return to_int16(x)
