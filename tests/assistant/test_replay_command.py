"""`ola-assistant replay` end to end: files in, answer text, wav and trace out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile

from ola_core.cli import main
from ola_core.model.tiny import TinyCheckpoint
from ola_core.trace import TurnTrace


@pytest.mark.slow
def test_replay_writes_answer_wav_and_complete_trace(
    tiny_checkpoint: TinyCheckpoint,
    question: Path,
    clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLA_CONFIG_DIR", str(tmp_path / "config"))  # default settings, not the user's
    out, trace_path = tmp_path / "answer.wav", tmp_path / "trace.json"
    code = main(
        [
            "replay",
            "--model",
            str(tiny_checkpoint.model_dir),
            "--audio",
            str(question),
            "--video",
            str(clip),
            "--out",
            str(out),
            "--trace",
            str(trace_path),
            "--device",
            "cpu",
            "--quantization",
            "none",
            "--max-new-tokens",
            "8",
            "--no-play",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "turn 1: completed" in captured.err and captured.out.strip()
    data = json.loads(trace_path.read_text())
    trace = TurnTrace(**{k: v for k, v in data.items() if k not in ("mouth_to_ear_s", "cancel_latency_s")})
    assert trace.kind == "voice" and trace.missing() == [] and trace.ordered()
    assert trace.frames_used >= 1 and trace.new_tokens > 0
    assert data["mouth_to_ear_s"] == pytest.approx(trace.t_first_played - trace.t_last_voiced)  # type: ignore[operator]
    pcm, rate = soundfile.read(out)
    assert len(pcm) / rate > 0.1


def test_replay_reports_a_missing_file_as_a_user_error(
    tiny_checkpoint: TinyCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "--model", str(tiny_checkpoint.model_dir), "--audio", str(tmp_path / "nope.wav")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
