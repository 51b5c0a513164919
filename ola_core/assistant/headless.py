"""An assistant without a window: replayed microphone, optional video "camera", answers to a wav.

Used by ``ola-assistant replay``, the latency benchmark and the tests, so all three drive the
same loop the GUI drives. :class:`HeadlessSession` collects the events and offers blocking
helpers (``ask_spoken``, ``ask_text``) on top of the asynchronous :class:`Assistant`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ola_core.assistant.answer import AnswerFilter
from ola_core.assistant.audio_in import AudioInput, ReplayInput
from ola_core.assistant.components import Components, make_engine
from ola_core.assistant.core import Assistant
from ola_core.assistant.echo import EchoGuard
from ola_core.assistant.speech_out import SpeechOutput
from ola_core.errors import OlaError
from ola_core.events import (
    AssistantEvent,
    AssistantTextDelta,
    ErrorRaised,
    InputLevel,
    ModelLoaded,
    StateChanged,
    TurnFinished,
    UserTurnCaptured,
)
from ola_core.settings import Settings, load_settings

CAPTURE_MARGIN_S = 30.0  # after the replayed audio ends: its turn is captured well within this


def replay_settings(
    model_dir: Path,
    *,
    profile: str | None = None,
    quantization: str | None = None,
    device: str | None = None,
    max_new_tokens: int | None = None,
    speculation_ms: int | None = None,
    end_silence_ms: int | None = None,
    adaptive_endpointing: bool | None = None,
    base: Settings | None = None,
) -> Settings:
    """The user's settings (or ``base``) with the model, generation and turn-taking overrides of
    the command line (None: the settings' value)."""
    settings = base or load_settings()[0]
    model = dataclasses.replace(settings.model, model_dir=str(model_dir))
    if profile is not None:
        model = dataclasses.replace(model, profile=profile)  # type: ignore[arg-type]
    if quantization is not None:
        model = dataclasses.replace(model, quantization=quantization)  # type: ignore[arg-type]
    if device is not None:
        model = dataclasses.replace(model, device=device)  # type: ignore[arg-type]
    generation = settings.generation
    if max_new_tokens is not None:
        generation = dataclasses.replace(generation, max_new_tokens=max_new_tokens)
    audio = dataclasses.replace(settings.audio, hands_free=True)
    if speculation_ms is not None:
        audio = dataclasses.replace(audio, speculation_ms=speculation_ms)
    if end_silence_ms is not None:
        audio = dataclasses.replace(audio, end_of_turn_silence_ms=end_silence_ms)
    if adaptive_endpointing is not None:
        audio = dataclasses.replace(audio, adaptive_endpointing=adaptive_endpointing)
    return dataclasses.replace(settings, model=model, generation=generation, audio=audio)


class HeadlessSession:
    """One assistant with a replayed microphone; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        out_wav: Path | None = None,
        play: bool = False,
        video: Path | None = None,
        frames: Path | None = None,
        audio_input: AudioInput | None = None,
        components: Components | None = None,
        echo: EchoGuard | None = None,
        replay_speed: float = 1.0,
        answer_filter: Callable[[], AnswerFilter] | None = None,
    ) -> None:
        self.settings = settings
        self.input = audio_input or ReplayInput(speed=replay_speed)
        self.components = components or Components(
            make_engine(settings), SpeechOutput.from_settings(settings, wav_path=out_wav, play=play)
        )
        self.assistant = Assistant(
            settings,
            components=self.components,
            audio_input=self.input,
            echo=echo,
            answer_filter=answer_filter,
        )
        self.on_text: Callable[[str], None] | None = None
        self.events: list[AssistantEvent] = []
        self.errors: list[ErrorRaised] = []
        self._cond = threading.Condition()
        self._video = video
        self._frames = frames
        self.assistant.subscribe(self._on_event)

    def _on_event(self, event: AssistantEvent) -> None:
        if isinstance(event, AssistantTextDelta) and self.on_text is not None:
            self.on_text(event.text)
        if isinstance(event, InputLevel):
            return  # ~50 per second: not kept (long runs would only grow the list)
        with self._cond:
            self.events.append(event)
            if isinstance(event, ErrorRaised):
                self.errors.append(event)
            self._cond.notify_all()

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 300.0) -> None:
        """Start the assistant and the video source; wait until the model is loaded (raises if it fails)."""
        self.assistant.start()
        if self._video is not None or self._frames is not None:
            from ola_core.assistant.sources import file_source

            self.assistant.use_frame_source(file_source(self._video or self._frames), "camera")  # type: ignore[arg-type]
        loaded = self.wait_for(
            lambda e: isinstance(e, ModelLoaded) or (isinstance(e, StateChanged) and e.state == "error"),
            timeout,
        )
        if not isinstance(loaded, ModelLoaded):
            raise OlaError(self.errors[-1].message if self.errors else "The model did not load in time.")

    def close(self) -> None:
        self.assistant.shutdown()

    # ------------------------------------------------------------------ waiting
    def wait_for(
        self, predicate: Callable[[AssistantEvent], bool], timeout: float, *, after: int = 0
    ) -> AssistantEvent | None:
        """The first event (index ≥ ``after``) matching ``predicate``, waiting up to ``timeout`` s."""
        with self._cond:
            found = self._cond.wait_for(
                lambda: next((e for e in self.events[after:] if predicate(e)), None), timeout
            )
            return found

    def mark(self) -> int:
        """Index of the next event (pass as ``after`` to wait only for what comes next)."""
        with self._cond:
            return len(self.events)

    def save_wav(self) -> Path | None:
        """Write the latest answer's audio to the session's wav (None when it records none)."""
        speech = self.components.speech
        return speech.save_wav() if speech is not None else None

    # ------------------------------------------------------------------ turns
    def ask_spoken(self, audio: Path | np.ndarray, timeout: float = 120.0) -> TurnFinished | None:
        """Speak ``audio`` into the replayed microphone; the finished turn, or None if none came."""
        if not isinstance(self.input, ReplayInput):
            raise TypeError("ask_spoken needs the replayed microphone")
        start = self.mark()
        if isinstance(audio, Path):
            self.input.say_file(audio)
        else:
            self.input.say(audio)
        self.input.wait_spoken(timeout)
        # Once everything was "spoken", the endpointer closes the turn within its silence rule.
        settle = min(timeout, self.settings.audio.end_of_turn_silence_ms / 1000 + CAPTURE_MARGIN_S)
        captured = self._wait_turn_event(lambda e: isinstance(e, UserTurnCaptured), settle, start)
        if captured is None:
            return None
        turn_id = captured.turn_id  # type: ignore[union-attr]
        done = self._wait_turn_event(
            lambda e: isinstance(e, TurnFinished) and e.turn_id == turn_id, timeout, start
        )
        return done  # type: ignore[return-value]

    def ask_text(self, text: str, timeout: float = 120.0) -> TurnFinished | None:
        start = self.mark()
        self.assistant.send_text(text)
        done = self._wait_turn_event(lambda e: isinstance(e, TurnFinished), timeout, start)
        return done  # type: ignore[return-value]

    def _wait_turn_event(
        self, predicate: Callable[[AssistantEvent], bool], timeout: float, after: int
    ) -> AssistantEvent | None:
        """Like :meth:`wait_for`, but an internal failure of the assistant raises at once.

        Such a failure means the turn will never finish; waiting out the timeout would only
        look like a hang to whoever drives the session.
        """
        found = self.wait_for(lambda e: predicate(e) or _internal_failure(e), timeout, after=after)
        if isinstance(found, ErrorRaised) and _internal_failure(found):
            raise OlaError(found.message)
        return found


def _internal_failure(event: AssistantEvent) -> bool:
    """An error the assistant's loop caught outside any turn's own error handling."""
    return isinstance(event, ErrorRaised) and event.area == "internal" and event.turn_id is None
