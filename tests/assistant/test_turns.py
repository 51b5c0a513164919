"""Whole turns through the real loop: replayed speech → endpointer → tiny engine → speech pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from ola_core.assistant.headless import HeadlessSession
from ola_core.events import AssistantTextDelta, SentenceSpoken, StateChanged, TurnFinished, UserTurnCaptured
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from tests.assistant.conftest import fast_settings, make_session, speak, wait_for_event


def test_spoken_question_gives_one_turn_text_wav_and_ordered_trace(
    session: HeadlessSession, question: Path, tmp_path: Path
) -> None:
    start = session.mark()
    finished = session.ask_spoken(question, timeout=120)
    assert finished is not None and finished.outcome == "completed"
    wait_for_event(
        session, StateChanged, after=start, where=lambda e: e.state == "idle"
    )  # after TurnFinished
    events = session.events[start:]
    captured = [e for e in events if isinstance(e, UserTurnCaptured)]
    assert len(captured) == 1 and captured[0].kind == "voice"
    assert 0.8 < captured[0].duration_s < 3.0  # "What is on my desk?" plus pre-roll and tail
    deltas = "".join(
        e.text for e in events if isinstance(e, AssistantTextDelta) and e.turn_id == finished.turn_id
    )
    assert deltas and deltas == finished.text
    states = [e.state for e in events if isinstance(e, StateChanged) and e.state != e.previous]
    assert states[:4] == ["listening", "thinking", "speaking", "idle"], states
    trace = finished.trace
    assert trace.missing() == [], trace.missing()  # every mark of MARKS is there
    assert trace.ordered(), "\n".join(f"{k} {v:.4f}" for k, v in trace.stages().items())
    assert trace.prompt_tokens and trace.new_tokens > 0 and trace.frames_used == 0
    assert trace.speech_s == captured[0].duration_s
    spoken = [e for e in events if isinstance(e, SentenceSpoken)]
    assert spoken and spoken[0].index == 0 and spoken[0].t == trace.t_first_played
    wav = session.save_wav()
    assert wav is not None
    pcm, rate = soundfile.read(wav)
    assert rate > 0 and len(pcm) / rate > 0.1 and np.abs(pcm).max() > 0.01  # the answer was spoken


def test_spoken_turn_takes_the_camera_frames_shown_while_speaking(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, question: Path, clip: Path
) -> None:
    session = make_session(loaded, tiny_checkpoint, fast_settings(tiny_checkpoint), video=clip)
    session.start(timeout=120)
    try:
        start = session.mark()
        finished = session.ask_spoken(question, timeout=120)
        assert finished is not None and finished.outcome == "completed"
        captured = next(e for e in session.events[start:] if isinstance(e, UserTurnCaptured))
        trace = finished.trace
        assert 1 <= len(captured.frames) <= fast_settings(tiny_checkpoint).vision.frames_per_turn
        assert trace.frames_used == len(captured.frames)
        assert trace.t_speech_start is not None and trace.t_last_voiced is not None
        for frame in captured.frames:  # sampled while the question was spoken, from the real video
            assert trace.t_speech_start - 0.5 <= frame.t <= trace.t_last_voiced + 0.5
            level = float(frame.rgb.mean())  # frame k of the clip is grey 10·k (± JPEG rounding)
            assert frame.rgb.shape == (48, 64, 3) and abs(level - 10 * round(level / 10)) <= 3
        # A typed question while the camera is on carries the current view (one frame).
        typed_start = session.mark()
        typed = session.ask_text("and now?", timeout=60)
        assert typed is not None
        typed_turn = next(e for e in session.events[typed_start:] if isinstance(e, UserTurnCaptured))
        assert typed_turn.kind == "text" and len(typed_turn.frames) == 1 and typed.trace.frames_used == 1
    finally:
        session.close()


def test_push_to_talk_turn(loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint) -> None:
    settings = fast_settings(tiny_checkpoint, hands_free=False)
    session = make_session(loaded, tiny_checkpoint, settings)
    session.start(timeout=120)
    try:
        start = session.mark()
        session.input.say(speak("Is this thing on?"))  # type: ignore[attr-defined]
        session.input.wait_spoken(10)  # type: ignore[attr-defined]
        # Hands-free is off: speech alone starts nothing.
        assert session.wait_for(lambda e: isinstance(e, UserTurnCaptured), 1.0, after=start) is None
        session.assistant.push_to_talk(True)
        session.input.say(speak("What is on my desk?"))  # type: ignore[attr-defined]
        session.input.wait_spoken(10)  # type: ignore[attr-defined]
        session.assistant.push_to_talk(False)
        finished = session.wait_for(lambda e: isinstance(e, TurnFinished), 60, after=start)
        assert isinstance(finished, TurnFinished) and finished.outcome == "completed"
        captured = next(e for e in session.events[start:] if isinstance(e, UserTurnCaptured))
        assert captured.kind == "voice" and captured.duration_s > 0.8
    finally:
        session.close()


def test_muted_microphone_starts_no_turn(session: HeadlessSession, question: Path) -> None:
    session.assistant.set_muted(True)
    start = session.mark()
    assert session.ask_spoken(question, timeout=5) is None
    session.assistant.set_muted(False)
    assert session.ask_spoken(question, timeout=60) is not None
    assert [e.kind for e in session.events[start:] if isinstance(e, UserTurnCaptured)] == ["voice"]


@pytest.mark.audio
@pytest.mark.slow  # loads the model as a user would (bf16 + warm-up): slow on a CPU
def test_chat_command_answers_typed_lines(
    tiny_checkpoint: TinyCheckpoint,
    virtual_audio: object,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io

    from ola_core.cli import main

    monkeypatch.setenv("OLA_CONFIG_DIR", str(tmp_path))
    # Piped input: every question is answered in turn, then the chat ends at the end of input.
    # (/stop, /reset and /quit act at once and drop questions typed ahead: tests/cli/.)
    monkeypatch.setattr("sys.stdin", io.StringIO("hello there\nand again\n"))
    code = main(
        ["chat", "--model", str(tiny_checkpoint.model_dir), "--device", "cpu", "--quantization", "none"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "ready:" in out and "ola> " in out.split("ready:", 1)[1]
