"""Speculative turn start through the whole assistant: replayed speech with a pause inside it."""

from __future__ import annotations

import dataclasses

import numpy as np

from ola_core.events import AssistantTextDelta, TurnFinished, UserTurnCaptured
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from tests.assistant.conftest import fast_settings, make_session, speak


def paused_question() -> np.ndarray:
    """Speech, 450 ms of silence (a pause, shorter than the end-of-turn wait), more speech."""
    first = speak("What is on")
    first = first[: np.nonzero(np.abs(first) > 0.01)[0][-1] + 1]  # without espeak's trailing silence
    silence = np.zeros(int(16000 * 0.45), np.float32)
    return np.concatenate([first, silence, speak("my desk?")])


def answer(loaded: LoadedOla, tiny: TinyCheckpoint, speculation_ms: int) -> tuple[TurnFinished, list[object]]:
    settings = fast_settings(tiny, end_of_turn_silence_ms=800, adaptive_endpointing=False)
    settings = settings.replace(
        audio=dataclasses.replace(settings.audio, speculation_ms=speculation_ms),
        generation=dataclasses.replace(settings.generation, max_new_tokens=12),
    )
    session = make_session(loaded, tiny, settings)
    try:
        session.start(timeout=120)
        start = session.mark()
        finished = session.ask_spoken(paused_question(), timeout=120)
        assert finished is not None and finished.outcome == "completed"
        return finished, list(session.events[start:])
    finally:
        session.close()


def test_a_pause_inside_the_question_is_dropped_and_the_answer_is_the_same(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint
) -> None:
    plain, _ = answer(loaded, tiny_checkpoint, speculation_ms=0)
    assert plain.trace.speculation == "off" and plain.trace.t_speculation_start is None

    finished, events = answer(loaded, tiny_checkpoint, speculation_ms=200)
    trace = finished.trace
    assert trace.speculation == "used", trace.speculation_summary()
    assert trace.speculations_dropped >= 1  # the pause inside the question
    assert finished.text == plain.text and trace.new_tokens == plain.trace.new_tokens
    assert trace.prompt_tokens == plain.trace.prompt_tokens
    assert trace.ordered(), trace.stages()
    assert trace.t_last_voiced < trace.t_speculation_start < trace.t_endpoint  # type: ignore[operator]
    # The dropped guess left nothing behind: one turn, numbered as the first, its text only.
    captured = [e for e in events if isinstance(e, UserTurnCaptured)]
    assert [e.turn_id for e in captured] == [finished.turn_id] == [1]
    assert {e.turn_id for e in events if isinstance(e, AssistantTextDelta)} == {1}
    assert len([e for e in events if isinstance(e, TurnFinished)]) == 1
