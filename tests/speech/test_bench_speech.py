"""`ola-assistant bench speech --json` measures a voice and the splitter."""

from __future__ import annotations

import json
import shutil

import pytest

from ola_core.cli import main
from ola_core.commands.bench_speech import ANSWER, token_stream


def test_token_stream_covers_the_answer() -> None:
    deltas = token_stream()
    assert "".join(deltas) == ANSWER and len(deltas) > 100


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_bench_speech_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "speech", "--synthesizer", "espeak-ng", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    figures = report["synthesizers"]["espeak-ng"]
    assert 0 < figures["rtf"] < 1  # espeak is far faster than real time anywhere
    assert figures["first_chunk_ms_median"] > 0
    assert {s["language"] for s in figures["sentences"]} == {"en", "zh"}
    splitter = report["splitter"]
    assert splitter["chunks"] >= 5 and splitter["hold_deltas_median"] >= 1


def test_bench_speech_unknown_synthesizer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "speech", "--synthesizer", "nope"]) == 2
    assert "no voice engine" in capsys.readouterr().err


@pytest.mark.audio
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_bench_speech_answers_on_the_speaker(
    virtual_audio: object, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "bench",
        "speech",
        "--synthesizer",
        "espeak-ng",
        "--answers",
        "2",
        "--tokens-per-s",
        "50",
        "--json",
    ]
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out)["answers"]["espeak-ng"]
    assert figures["answers"] == 2 and figures["audio_s"] > 5
    assert figures["gaps"] >= 2  # every answer has several sentences
    assert figures["underruns"] >= 0 and figures["output_underflows"] >= 0
    assert 0 < figures["first_clause_to_audio_ms_p50"] < figures["first_token_to_audio_ms_p50"]
