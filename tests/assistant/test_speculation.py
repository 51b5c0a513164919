"""Speculative turn start through the whole assistant: replayed speech with a pause inside it."""

from __future__ import annotations

import dataclasses

import numpy as np

from ola_core.assistant.audio_in import AudioInput
from ola_core.assistant.headless import HeadlessSession
from ola_core.capture.events import CaptureEvent, SpeechEnded, SpeechPaused, SpeechStarted
from ola_core.events import AssistantTextDelta, TurnFinished, UserTurnCaptured
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from tests.assistant.conftest import fast_settings, make_session, speak, wait_for_event


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


class ScriptedInput(AudioInput):
    """A "microphone" whose endpointer events the test writes itself (exact timing, no audio)."""

    def _start(self) -> None:
        pass

    def _stop(self) -> None:
        pass

    def send(self, event: CaptureEvent) -> None:
        self._on_event(event)


def scripted_session(
    loaded: LoadedOla, tiny: TinyCheckpoint, speculation_ms: int = 200
) -> tuple[HeadlessSession, ScriptedInput]:
    settings = fast_settings(tiny, speculation_ms=speculation_ms)
    scripted = ScriptedInput()
    session = make_session(loaded, tiny, settings, audio_input=scripted)
    session.start(timeout=120)
    return session, scripted


def utterance(text: str) -> np.ndarray:
    return np.rint(speak(text) * 32767).astype(np.int16)


def test_a_typed_question_during_a_speculation_drops_it(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint
) -> None:
    session, mic = scripted_session(loaded, tiny_checkpoint)
    try:
        pcm = utterance("What is on my desk?")
        start = session.mark()
        mic.send(SpeechStarted(10.0))
        mic.send(SpeechPaused(10.0, 11.0, 11.2, pcm))
        typed = session.ask_text("Hello there.")
        assert typed is not None and typed.turn_id == 1 and typed.trace.kind == "text"
        mic.send(SpeechEnded(10.0, 11.0, 11.7, pcm, wait_ms=700))
        spoken = wait_for_event(
            session, TurnFinished, after=start, timeout=60, where=lambda e: e.turn_id == 2
        )
        assert spoken.trace.speculation == "none" and spoken.trace.speculations_dropped == 1
        assert spoken.trace.endpoint_wait_ms == 700
        captured = [e.turn_id for e in session.events[start:] if isinstance(e, UserTurnCaptured)]
        assert captured == [1, 2]
    finally:
        session.close()


def test_an_endpoint_with_other_audio_does_not_use_the_guess(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint
) -> None:
    session, mic = scripted_session(loaded, tiny_checkpoint)
    try:
        guess, real = utterance("What is on"), utterance("What is on my desk?")
        start = session.mark()
        mic.send(SpeechStarted(10.0))
        mic.send(SpeechPaused(10.0, 10.8, 11.0, guess))
        mic.send(SpeechEnded(10.0, 11.6, 12.2, real))  # no SpeechResumed: still not the same utterance
        finished = wait_for_event(session, TurnFinished, after=start, timeout=60)
        assert finished.turn_id == 1 and finished.trace.speculation == "none"
        assert finished.trace.speculations_dropped == 1
        assert finished.trace.speech_s == len(real) / 16000
    finally:
        session.close()


def test_with_speculation_off_a_pause_starts_nothing(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint
) -> None:
    session, mic = scripted_session(loaded, tiny_checkpoint, speculation_ms=0)
    try:
        pcm = utterance("What is on my desk?")
        start = session.mark()
        mic.send(SpeechStarted(10.0))
        mic.send(SpeechPaused(10.0, 11.0, 11.2, pcm))
        mic.send(SpeechEnded(10.0, 11.0, 11.7, pcm))
        finished = wait_for_event(session, TurnFinished, after=start, timeout=60)
        assert finished.trace.speculation == "off" and finished.trace.t_speculation_start is None
    finally:
        session.close()
