"""Shared pieces of the command-line tests: a tiny checkpoint, spoken and damaged audio, settings.

Every test gets its own settings folder (``OLA_CONFIG_DIR``), so the user's real settings never
leak in and a test's broken settings file never leaks out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from ola_core.model.tiny import TinyCheckpoint, write_tiny_checkpoint


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("OLA_CONFIG_DIR", str(folder))
    monkeypatch.setenv("OLA_DATA_DIR", str(tmp_path / "data"))  # the history, the voices
    return folder


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("cli-tiny"), seed=0)


@pytest.fixture(scope="session")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spoken question (espeak-ng) as a float wav, the base of the damaged copies."""
    from ola_core.speech.espeak_voice import EspeakSynthesizer

    synth = EspeakSynthesizer()
    path = tmp_path_factory.mktemp("cli-audio") / "question.wav"
    pcm = np.concatenate(list(synth.synthesize("What is on my desk?")))
    soundfile.write(path, pcm, synth.sample_rate, subtype="FLOAT")
    return path


def damaged_copy(source: Path, folder: Path, value: float) -> Path:
    """``source`` with one sample replaced by ``value`` (NaN or ±infinity), still a valid wav."""
    pcm, rate = soundfile.read(source, dtype="float32")
    pcm[len(pcm) // 2] = value
    path = folder / f"damaged-{value}.wav"
    soundfile.write(path, pcm, rate, subtype="FLOAT")
    return path


def tiny_args(tiny: TinyCheckpoint) -> list[str]:
    return ["--model", str(tiny.model_dir), "--device", "cpu", "--quantization", "none"]
