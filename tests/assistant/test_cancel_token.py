"""One cancel token per turn: it reaches the engine, the synthesis and the player, and setting it
never blocks the assistant's loop (even while the voice is slow to stop)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from ola_core.assistant.components import Components
from ola_core.assistant.core import Assistant
from ola_core.assistant.headless import HeadlessSession
from ola_core.assistant.speech_out import SpeechOutput
from ola_core.cancel import CancelToken
from ola_core.engine import OlaEngine
from ola_core.events import SentenceSpoken, TurnFinished
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from ola_core.settings import GenerationPreferences
from ola_core.speech.recording import RecordingSink
from tests.assistant.conftest import fast_settings, wait_for_event
from tests.speech.fakes import ToneSynthesizer

LOOP_BUDGET_S = 0.05  # "a few ms" with room for a busy CI machine; the voice takes 2 s to stop


class SlowToStop(ToneSynthesizer):
    """A voice that notices the cancel only after ``stop_s`` (a slow model between two chunks)."""

    def __init__(self, stop_s: float) -> None:
        super().__init__(seconds_per_char=0.05, chunk_s=0.05)
        self.stop_s = stop_s
        self.tokens: list[CancelToken] = []
        self.stopped = threading.Event()

    def synthesize(
        self, text: str, voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        token = cancel or CancelToken()
        self.tokens.append(token)
        for chunk in super().synthesize(text, voice, token):
            yield chunk
            if token.wait(0.01):
                time.sleep(self.stop_s)  # ignores the cancel for a while
                self.stopped.set()
                return


class TokenSink(RecordingSink):
    """A recording sink (no device) that keeps the tokens the pipeline hands it."""

    def __init__(self) -> None:
        super().__init__(None)
        self.tokens: list[CancelToken] = []

    def play(self, pcm: np.ndarray, sample_rate: int, marker: object = None, cancel: Any = None) -> None:
        if cancel is not None:
            self.tokens.append(cancel)
        super().play(pcm, sample_rate, marker, cancel)


@pytest.fixture
def slow_voice_session(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[HeadlessSession, SlowToStop, TokenSink, list[CancelToken], list[float]]]:
    settings = fast_settings(tiny_checkpoint)
    settings = settings.replace(generation=GenerationPreferences(max_new_tokens=40, temperature=0.0))
    synth, sink = SlowToStop(stop_s=2.0), TokenSink()
    engine = OlaEngine.from_loaded(loaded, model_dir=tiny_checkpoint.model_dir)
    engine_tokens: list[CancelToken] = []
    answer = engine.answer

    def spy(turn: Any, on_delta: Any, settings: Any = None, cancel: Any = None, ready: Any = None) -> Any:
        engine_tokens.append(cancel)
        return answer(turn, on_delta, settings, cancel, ready=ready)

    monkeypatch.setattr(engine, "answer", spy)
    handled: list[float] = []  # seconds the loop spent on each message
    handle = Assistant._handle

    def timed(self: Assistant, message: Any) -> None:
        t0 = time.monotonic()
        try:
            handle(self, message)
        finally:
            handled.append(time.monotonic() - t0)

    monkeypatch.setattr(Assistant, "_handle", timed)
    session = HeadlessSession(settings, components=Components(engine, SpeechOutput(synth, sink)))
    session.start(timeout=120)
    yield session, synth, sink, engine_tokens, handled
    session.close()


def test_one_cancel_reaches_engine_synthesis_and_player_without_blocking_the_loop(
    slow_voice_session: tuple[HeadlessSession, SlowToStop, TokenSink, list[CancelToken], list[float]],
) -> None:
    session, synth, sink, engine_tokens, handled = slow_voice_session
    start = session.mark()
    session.assistant.send_text("Tell me a long story about the sea.")
    wait_for_event(session, SentenceSpoken, after=start, timeout=60)  # the voice is speaking
    handled.clear()
    session.assistant.stop()
    finished = wait_for_event(session, TurnFinished, after=start, timeout=30)
    assert finished.outcome == "stopped"
    # One token, seen by all three: the engine got it, the voice got one linked to it (set with
    # it), and the player's notices carry it.
    (token,) = engine_tokens
    assert token.is_set() and token.reason == "stopped"
    assert sink.tokens and all(t is token for t in sink.tokens)
    assert synth.tokens and synth.tokens[-1].is_set()
    assert synth.stopped.wait(10)  # the slow voice did stop, long after the loop moved on
    # The loop never waited for it: every message (the Stop included) was handled at once.
    assert session.assistant.wait_idle(10)
    assert handled and max(handled) < LOOP_BUDGET_S, sorted(handled)[-3:]
