"""Whole turns through the real loop: replayed speech → endpointer → tiny engine → speech pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from ola_core.assistant.headless import HeadlessSession
from ola_core.events import AssistantTextDelta, SentenceSpoken, StateChanged, UserTurnCaptured


def test_spoken_question_gives_one_turn_text_wav_and_ordered_trace(
    session: HeadlessSession, question: Path, tmp_path: Path
) -> None:
    start = session.mark()
    finished = session.ask_spoken(question, timeout=120)
    assert finished is not None and finished.outcome == "completed"
    events = session.events[start:]
    captured = [e for e in events if isinstance(e, UserTurnCaptured)]
    assert len(captured) == 1 and captured[0].kind == "voice"
    assert 0.8 < captured[0].duration_s < 3.0  # "What is on my desk?" plus pre-roll and tail
    deltas = "".join(e.text for e in events if isinstance(e, AssistantTextDelta) and e.turn_id == finished.turn_id)
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
    wav = session.components.speech.save_wav()
    assert wav is not None
    pcm, rate = soundfile.read(wav)
    assert rate > 0 and len(pcm) / rate > 0.1 and np.abs(pcm).max() > 0.01  # the answer was spoken
