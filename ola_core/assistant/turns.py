"""Turns: from captured speech (or typed text) to an :class:`AnswerRun`, its cancellation, its end.

Runs on the assistant's loop thread only. A turn starts as one :class:`~ola_core.engine.Turn`
(built here from the utterance, the frames and the attachments) and one
:class:`~ola_core.assistant.answer.AnswerRun` with its own cancel token. A barge-in or Stop sets
the token and moves the state on at once (:meth:`TurnLifecycle._interrupt` never waits); the
cancelled run's ``TurnFinished`` is reported when its ``GenerationEnded`` message arrives. A
completed run ends when both its generation and its voice (``SpeechFinished``/``SpeechError``,
straight from the pipeline) have ended.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ola_core.assistant.answer import (
    AnswerOutcome,
    AnswerRun,
    build_turn,
    generation_settings,
    problem_area,
)
from ola_core.assistant.base import Pending
from ola_core.assistant.captions import Captions
from ola_core.assistant.echo import ECHO_LIKENESS
from ola_core.assistant.speculation import Speculation, SpeculativeStart
from ola_core.capture.events import (
    DeviceLost,
    DeviceRestored,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SustainedSpeech,
)
from ola_core.engine.types import Turn
from ola_core.errors import (
    AudioDeviceError,
    CameraError,
    ScreenCaptureError,
)
from ola_core.events import (
    AttachmentsChanged,
    DeviceEvent,
    TurnFinished,
    UserTurnCaptured,
)
from ola_core.media_types import TimedFrame
from ola_core.speech.pipeline import SentenceStarted, SpeechError, SpeechEvent, SpeechFinished
from ola_core.trace import TraceRecorder, TraceWriter

log = logging.getLogger(__name__)


class TurnLifecycle(SpeculativeStart):
    """Capture events, speech events and the turn lifecycle of the assistant's loop."""

    _captions: Captions | None = None
    _captions_engine: object = None  # the engine ``_captions`` belongs to

    def _on_utterance(
        self, event: SpeechStarted | SustainedSpeech | SpeechPaused | SpeechResumed | SpeechEnded
    ) -> None:
        """The endpointer's events about the user's speech."""
        match event:
            case SpeechStarted():
                self._on_speech_started(event)
            case SustainedSpeech():
                self._on_sustained_speech(event)
            case SpeechPaused():
                self._on_speech_paused(event)
            case SpeechResumed():
                self._drop_speculation()
            case SpeechEnded():
                self._on_speech_ended(event)

    def _on_speech_started(self, event: SpeechStarted) -> None:
        if self._muted:
            return
        self._speech_active = True
        # Speech that starts over an answer is a turn only if it becomes a barge-in.
        self._speech_over_answer = self._answer is not None
        if self._state == "idle":
            self._set_state("listening")

    def _on_sustained_speech(self, event: SustainedSpeech) -> None:
        """The user keeps talking while the assistant answers: barge in."""
        if self._muted or self._answer is None or not self._settings.audio.barge_in or not self._hands_free:
            return
        likeness = self._echo.echo_likeness()
        if likeness is not None and likeness > ECHO_LIKENESS:
            log.info("ignored a barge-in that sounds like our own voice (correlation %.2f)", likeness)
            return
        self._speech_over_answer = False
        self._interrupt("barge_in", event.t)
        self._set_state("listening")

    def _on_speech_ended(self, event: SpeechEnded) -> None:
        self._speech_active = False
        over_answer, self._speech_over_answer = self._speech_over_answer, False
        if self._muted or event.reason == "flush":
            self._end_utterance_speculation()
            return
        if self._answer is not None or over_answer or not self._ready_for_turn():
            # A short burst over the answer (cough, a word of echo): not a turn, not a barge-in.
            self._end_utterance_speculation()
            if self._state == "listening":
                self._set_state("idle")
            return
        speculation = self._take_speculation(event)
        run = speculation.run if speculation is not None else None
        dropped = self._end_utterance_speculation()
        trace = run.trace if run is not None else TraceRecorder(self._next_turn_id(), "voice")
        trace.set(
            t_speech_start=event.t_first_voiced,
            t_last_voiced=event.t_last_voiced,
            t_endpoint=event.t_endpoint,
            endpoint_wait_ms=event.wait_ms,
            speculations_dropped=dropped,
        )
        trace.mark("t_turn_start", self._clock())
        if speculation is not None and run is not None:
            trace.set(speculation="used")
            self._announce(trace, text="", speech=event.pcm, frames=speculation.frames)
            self._answer = run
            run.confirm()
            return
        trace.set(speculation="off" if self._settings.audio.speculation_ms <= 0 else "none")
        frames = self._turn_frames(event.t_first_voiced, event.t_last_voiced)
        self._start_turn(trace, text="", speech=event.pcm, frames=frames)

    def _on_speech_paused(self, event: SpeechPaused) -> None:
        """A pause that may be the end of the turn: start the turn's work now, speculatively."""
        if not self._may_speculate(event):
            return
        trace = TraceRecorder(self._next_turn_id(), "voice")
        trace.set(t_speech_start=event.t_first_voiced, t_last_voiced=event.t_last_voiced)
        trace.mark("t_speculation_start", self._clock())
        frames = self._turn_frames(event.t_first_voiced, event.t_last_voiced)
        attachments = tuple(self._pending.attachments)
        turn = self._build(trace, text="", speech=event.pcm, frames=frames, attachments=attachments)
        if turn is None:  # bad media: the turn at the endpoint reports it
            self._turn_ids -= 1
            return
        run = self._launch(trace, turn, speculative=True)
        self._speculation = Speculation(run, event, attachments, tuple(frames))

    def _turn_frames(self, t_first: float, t_last: float) -> list[TimedFrame]:
        if self._source is None:
            return []
        return self._source.frames_between(t_first, t_last, self._settings.vision.frames_per_turn)

    def _on_device(self, event: DeviceLost | DeviceRestored) -> None:
        kind = event.kind
        if isinstance(event, DeviceLost):
            self._emit(DeviceEvent(kind, event.name, False, event.message, event.t))
            error = {"microphone": AudioDeviceError, "camera": CameraError, "screen": ScreenCaptureError}[
                kind
            ]
            self._error(kind, error(event.message))
            if kind == "microphone" and self._speech_active:
                self._speech_active = False
                if self._state == "listening":
                    self._set_state("idle")
        else:
            self._emit(DeviceEvent(kind, event.name, True, "", event.t))

    def _on_speech_event(self, event: SpeechEvent) -> None:
        """A speech event, straight from the pipeline: to its turn's run (stale turns are ignored)."""
        run = self._answer
        if run is None or run.turn_id != event.turn:
            return
        run.on_speech(event)
        if isinstance(event, SentenceStarted) and event.index == 0 and self._state == "thinking":
            self._set_state("speaking")
        if isinstance(event, SpeechFinished | SpeechError):
            self._finish_if_over(run)

    # ------------------------------------------------------------------ turns
    def _next_turn_id(self) -> int:
        self._turn_ids += 1
        return self._turn_ids

    def _start_turn(
        self, trace: TraceRecorder, *, text: str, speech: Any, frames: Sequence[TimedFrame]
    ) -> None:
        turn_attachments = tuple(self._pending.attachments)
        self._announce(trace, text=text, speech=speech, frames=frames)
        turn = self._build(trace, text=text, speech=speech, frames=frames, attachments=turn_attachments)
        if turn is None:  # bad media: the turn ended at once, as a failed one
            return
        self._answer = self._launch(trace, turn)

    def _announce(
        self, trace: TraceRecorder, *, text: str, speech: Any, frames: Sequence[TimedFrame]
    ) -> None:
        """The user's turn is real: it takes the pending attachments and is shown; the model thinks."""
        attachments = tuple(self._pending.attachments)
        previews = tuple(self._pending.previews.get(p, ()) for p in attachments)
        self._pending = Pending()
        if attachments:
            self._emit(AttachmentsChanged((), self._clock()))
        kind: Literal["camera", "screen"] = "screen" if self._source_kind == "screen" else "camera"
        duration = 0.0 if speech is None else len(speech) / 16_000
        trace.set(frames_used=len(frames), speech_s=duration)
        self._emit(
            UserTurnCaptured(
                trace.turn_id,
                "voice" if speech is not None else "text",
                text,
                duration,
                tuple(frames),
                kind,
                attachments,
                self._clock(),
                previews,
            )
        )
        self._set_state("thinking")

    def _build(
        self,
        trace: TraceRecorder,
        *,
        text: str,
        speech: Any,
        frames: Sequence[TimedFrame],
        attachments: tuple[Path, ...],
    ) -> Turn | None:
        """The one Turn that goes from here to the engine; None (the turn reported as failed, unless
        speculative) when its media cannot be used."""
        kind: Literal["camera", "screen"] = "screen" if self._source_kind == "screen" else "camera"
        try:
            return build_turn(
                text=text, speech=speech, frames=frames, frames_kind=kind, attachments=attachments
            )
        except Exception as error:
            if trace.get("t_speculation_start") is None:
                trace.set(outcome="error")
                self._report_end(trace, AnswerOutcome("error", "", error, problem_area(error)))
            return None

    def _launch(self, trace: TraceRecorder, turn: Turn, *, speculative: bool = False) -> AnswerRun:
        assert self._components is not None
        run = AnswerRun(
            trace=trace,
            engine=self._components.engine,
            speech=self._components.speech if self._settings.voice.speak_answers else None,  # None: text only
            turn=turn,
            options=generation_settings(self._settings),
            emit=self._emit,
            post=self._inbox.put,
            after=self._ending[-1] if self._ending else None,  # the engine answers one turn at a time
            clock=self._clock,
            captions=self._turn_captions(),
            text_filter=self._answer_filter() if self._answer_filter is not None else None,
            speculative=speculative,
        )
        run.start()
        return run

    def _turn_captions(self) -> Captions | None:
        """The captions of the current engine (made at its first turn; None where it has none)."""
        assert self._components is not None
        engine = self._components.engine
        if self._captions_engine is not engine:
            if self._captions is not None:
                self._captions.close()
            self._captions = Captions.for_engine(engine, self._emit, self._clock)
            self._captions_engine = engine
        return self._captions

    def _interrupt(self, outcome: Literal["barge_in", "stopped"], t: float) -> None:
        """Cancel the running answer (generation, synthesis, playback) and return at once.

        The run's token is set; the state moves on now, and the run's ``TurnFinished`` follows
        when its thread has ended (a :class:`GenerationEnded` message).
        """
        run = self._answer
        if run is None:
            return
        run.cancel(outcome, t)
        self._answer = None
        self._ending.append(run)
        log.debug("interrupt: queued %.1f ms", (self._clock() - t) * 1000)
        self._finish_if_over(run)
        if not self._stopping:
            self._set_state("listening" if self._speech_active else "idle")

    def _finish_if_over(self, run: AnswerRun) -> None:
        if not run.finished():
            return
        if run in self._ending:
            self._ending.remove(run)
        self._finish(run, run.outcome())

    def _finish(self, run: AnswerRun, outcome: AnswerOutcome) -> None:
        if run.dropped:  # a speculation that was wrong: it never was a turn
            return
        current = run is self._answer
        if current:
            self._answer = None
        run.trace.set(outcome=outcome.outcome)
        self._report_end(run.trace, outcome)
        if current and not self._stopping:
            self._set_state("listening" if self._speech_active else "idle")

    def _report_end(self, trace: TraceRecorder, outcome: AnswerOutcome) -> None:
        """The turn's error (if any), its trace file and its ``TurnFinished``."""
        trace.mark("t_end", self._clock())
        if outcome.error is not None:
            self._error(outcome.area, outcome.error, trace.turn_id)
        frozen = trace.freeze()
        if self._settings.trace_file:  # written before the event: a listener may read it at once
            try:
                TraceWriter(Path(self._settings.trace_file)).write(frozen)
            except OSError as error:
                self._warn(
                    "settings", f"Could not write the latency trace to {self._settings.trace_file}: {error}"
                )
        self._emit(TurnFinished(trace.turn_id, outcome.text, frozen.outcome, frozen))
        if self._answer is None and not self._stopping and self._state == "thinking":
            self._set_state("listening" if self._speech_active else "idle")
