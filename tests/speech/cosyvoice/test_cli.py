"""`ola-assistant cosyvoice say / clone / tiny` on the tiny folder (in process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from ola_core.cli import main
from tests.speech.cosyvoice.media import clip


@pytest.mark.slow
def test_clone_then_say_with_the_cloned_voice(
    tiny_cosyvoice_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(
        "ola_core.speech.cosyvoice.synthesizer.default_voices_file", lambda: tmp_path / "voices.pt"
    )
    sample = tmp_path / "me.wav"
    soundfile.write(sample, clip(16_000, 3.0), 16_000)
    model = ["--model", str(tiny_cosyvoice_dir), "--device", "cpu"]
    assert main(["cosyvoice", "clone", "me", str(sample), "--text", "This is my voice.", *model]) == 0
    assert (tmp_path / "voices.pt").is_file()
    out = tmp_path / "hello.wav"
    assert main(["cosyvoice", "say", "Hello there.", "--voice", "me", "--out", str(out), *model]) == 0
    audio, rate = soundfile.read(out, dtype="float32")
    assert rate == 24_000 and len(audio) > 0 and np.abs(audio).max() <= 0.99
    assert "chunk 1:" in capsys.readouterr().out


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cosyvoice", "say", "Hello.", "--model", str(tmp_path), "--device", "cpu"]) == 2
    assert "incomplete" in capsys.readouterr().err


def test_tiny_writes_a_loadable_folder(tmp_path: Path) -> None:
    assert main(["cosyvoice", "tiny", str(tmp_path / "cv")]) == 0
    assert (tmp_path / "cv" / "flow.pt").is_file() and (tmp_path / "cv" / "campplus.onnx").is_file()
