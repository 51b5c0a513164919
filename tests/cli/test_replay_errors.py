"""`replay` on bad input: exit 2 with one line naming the file or option, checked before the turn, never a hang."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ola_core.cli import main
from ola_core.model.tiny import TinyCheckpoint
from tests.cli.conftest import damaged_copy, tiny_args


def replay(tiny: TinyCheckpoint, audio: Path, *extra: str) -> list[str]:
    return ["replay", *tiny_args(tiny), "--audio", str(audio), "--no-play", *extra]


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error") or "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("value", ["0", "-5", "99999999999", "ten"])
def test_max_new_tokens_out_of_range_is_refused(
    tiny: TinyCheckpoint, spoken: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(replay(tiny, spoken, "--max-new-tokens", value))
    assert exit_info.value.code == 2
    assert "--max-new-tokens" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_or_infinite_audio_is_refused_naming_the_file(
    tiny: TinyCheckpoint, spoken: Path, tmp_path: Path, value: float, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = damaged_copy(spoken, tmp_path, value)
    assert main(replay(tiny, bad)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(bad) in line and "NaN or infinity" in line


def test_silence_says_at_once_that_no_speech_was_found(
    tiny: TinyCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(10 * 16_000, np.float32), 16_000)
    started = time.monotonic()
    assert main(replay(tiny, silence)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "No speech was found" in line and str(silence) in line
    # "At once": the 10 s recording is not replayed in real time first (the model is not even loaded).
    assert time.monotonic() - started < 10.0


@pytest.mark.parametrize("option", ["--out", "--trace"])
def test_unwritable_output_is_refused_before_the_turn(
    tiny: TinyCheckpoint, spoken: Path, tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "answer.wav"  # a path under a file can never be written
    assert main(replay(tiny, spoken, option, str(target))) == 2
    err = capsys.readouterr().err
    assert str(target) in one_error_line(err) and "turn 1" not in err


def test_broken_video_is_refused_like_ask_does(
    tiny: TinyCheckpoint, spoken: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    assert main(replay(tiny, spoken, "--video", str(broken))) == 2
    assert str(broken) in one_error_line(capsys.readouterr().err)
    assert main(["ask", "hi", *tiny_args(tiny), "--video", str(broken)]) == 2


def test_unreadable_frames_folder_is_one_line(
    tiny: TinyCheckpoint,
    spoken: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    real_iterdir = Path.iterdir

    def no_permission(self: Path):  # type: ignore[no-untyped-def]
        if self == frames:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", no_permission)  # root ignores chmod: simulate it
    assert main(replay(tiny, spoken, "--frames", str(frames))) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(frames) in line and "permission denied" in line


@pytest.mark.slow
def test_an_internal_failure_ends_the_turn_instead_of_hanging(
    tiny: TinyCheckpoint, spoken: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks inside the assistant's loop (outside a turn's own error handling), replay ends
    with a message and exit code 2."""
    from ola_core.assistant.turns import TurnLifecycle

    def broken(*_: object, **__: object) -> None:
        raise ValueError("broken on purpose")

    monkeypatch.setattr(TurnLifecycle, "_on_speech_ended", broken)  # the loop's handler of an ended utterance
    started = time.monotonic()
    assert main(replay(tiny, spoken, "--max-new-tokens", "4")) == 2
    assert "broken on purpose" in one_error_line(capsys.readouterr().err)
    assert time.monotonic() - started < 120.0  # the old code waited 300 s, then more


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings_text",
    [
        '{"generation": {"max_new_tokens": 1e400, "temperature": NaN}}',
        "[" * 100_000 + "]" * 100_000,
        '{"generation": {"max_new_tokens": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}}",
    ],
    ids=["1e400-nan", "nested-100000", "nested-value"],
)
def test_broken_settings_do_not_stop_a_turn(
    tiny: TinyCheckpoint,
    spoken: Path,
    own_settings: Path,
    settings_text: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    own_settings.mkdir(parents=True, exist_ok=True)
    (own_settings / "settings.json").write_text(settings_text)
    trace = own_settings.parent / "trace.json"
    code = main(replay(tiny, spoken, "--max-new-tokens", "4", "--trace", str(trace)))
    assert code == 0, capsys.readouterr().err
    assert json.loads(trace.read_text())["new_tokens"] >= 1
