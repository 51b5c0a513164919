"""`Assistant`: the turn state machine and the threads of one conversation.

States (``ola_core.events.AssistantState``)::

    loading ─► idle ⇄ listening ─► thinking ─► speaking ─► idle
                 ▲                    │  barge-in / Stop     │
                 └────────────────────┴──────────────────────┘

Threads:

* **loop** (``assistant-loop``): the only thread that changes the state. It takes messages from
  one queue: commands from the public methods (any thread), capture events from the endpointer,
  and reports from the answer run. Nothing on it blocks for long: loading runs on its own thread
  and every answer runs in an :class:`~ola_core.assistant.answer.AnswerRun`.
* **audio in**: the microphone's (or the replayed file's) thread delivers blocks; the
  :class:`~ola_core.assistant.echo.EchoGuard` removes the assistant's own voice, and the
  endpointer turns the cleaned blocks into SpeechStarted / SustainedSpeech / SpeechEnded events
  that are queued to the loop.
* **answer**: generation (engine deltas → transcript events → sentence splitter) and the speech
  output's synthesis and playback threads; see :mod:`ola_core.assistant.answer`.
* **frames**: the active camera/screen source's own capture thread.

Subscribers get events on these threads (see :mod:`ola_core.events`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ola_core.assistant.answer import AnswerOutcome, AnswerRun, check_attachment, generation_settings
from ola_core.assistant.audio_in import AudioInput, MicrophoneInput
from ola_core.assistant.components import Components, build_components
from ola_core.assistant.echo import ECHO_LIKENESS, EchoGuard
from ola_core.assistant.sources import open_source
from ola_core.capture.events import (
    CaptureEvent,
    DeviceLost,
    DeviceRestored,
    LevelUpdate,
    Overflow,
    SpeechEnded,
    SpeechStarted,
    SustainedSpeech,
)
from ola_core.capture.frames import FrameSource, TimedFrame
from ola_core.errors import (
    AudioDeviceError,
    CameraError,
    GenerationError,
    OlaError,
    ScreenCaptureError,
)
from ola_core.events import (
    AssistantEvent,
    AssistantState,
    AttachmentsChanged,
    ConversationReset,
    DeviceEvent,
    ErrorRaised,
    InputLevel,
    ModelLoaded,
    ModelLoadProgress,
    ProblemArea,
    SourceChanged,
    SourceKind,
    StateChanged,
    Subscriber,
    TurnFinished,
    UserTurnCaptured,
    WarningRaised,
)
from ola_core.settings import Settings
from ola_core.trace import TraceRecorder, TraceWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Command:
    name: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _AnswerEnded:
    run: AnswerRun
    outcome: AnswerOutcome


@dataclass(frozen=True)
class _FirstSamplePlayed:
    run: AnswerRun


@dataclass(frozen=True)
class _Loaded:
    engine: object  # which engine (a reload may have replaced it meanwhile)
    description: str
    load_s: float


@dataclass(frozen=True)
class _LoadFailed:
    engine: object
    error: OlaError


_Message = _Command | _AnswerEnded | _FirstSamplePlayed | _Loaded | _LoadFailed | CaptureEvent


@dataclass
class _Pending:
    """What goes with the next turn besides speech/text."""

    attachments: list[Path] = field(default_factory=list)


class Assistant:
    """One conversation with the local Ola model: microphone, camera/screen, and voice answers.

    Construct it, ``subscribe`` to its events, then ``start()`` (returns at once; the model loads
    in the background with :class:`ModelLoadProgress` events). Every command method is safe to
    call from any thread, returns immediately and acts on the loop thread in call order.

    The components are built from ``settings`` unless given (tests, ``replay``): ``engine`` (an
    ``OlaEngine``, loaded by ``start`` if not yet loaded), ``speech`` (the speech output:
    synthesizer + player or wav sink), ``audio_input`` (the live microphone by default, or a
    replayed file) and ``echo`` (the echo guard; tests pass one without the canceller to check
    the half-duplex fallback).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        components: Components | None = None,
        audio_input: AudioInput | None = None,
        echo: EchoGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings or Settings()
        self._components = components
        self._audio_input_given = audio_input
        self._audio_input: AudioInput | None = None
        self._clock = clock
        self._inbox: queue.Queue[_Message] = queue.Queue()
        self._subscribers: list[Subscriber] = []
        self._subscribers_lock = threading.Lock()
        self._state: AssistantState = "loading"
        self._hands_free = self._settings.audio.hands_free
        self._muted = False
        self._ptt_down = False
        self._speech_active = False  # an utterance is being captured (between start and end)
        self._speech_over_answer = False
        self._pending = _Pending()
        self._answer: AnswerRun | None = None
        self._turn_ids = 0
        self._source: FrameSource | None = None
        self._source_kind: SourceKind = "off"
        self._source_index = 0
        self._echo_given = echo
        self._echo = echo or EchoGuard(self._settings.audio.echo_mode)
        self._loop_thread: threading.Thread | None = None
        self._loader: threading.Thread | None = None
        self._load_cancel = threading.Event()
        self._idle = threading.Event()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle and observers
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns a function that unsubscribes.

        Callbacks run on the assistant's worker threads and must return quickly; an exception in
        a callback is logged and never reaches the assistant.
        """
        with self._subscribers_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._subscribers_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def start(self) -> None:
        """Start the loop, open the microphone and the configured source, load the model (background)."""
        if self._loop_thread is not None:
            return
        self._loop_thread = threading.Thread(target=self._run_loop, name="assistant-loop", daemon=True)
        self._loop_thread.start()
        self._inbox.put(_Command("start"))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop everything and release devices and threads; the object cannot be started again."""
        if self._loop_thread is None:
            return
        self._inbox.put(_Command("shutdown"))
        self._loop_thread.join(timeout)
        if self._loop_thread.is_alive():
            log.warning("assistant loop did not stop within %.1f s", timeout)
        self._loop_thread = None

    # ------------------------------------------------------------------ read-only views
    @property
    def state(self) -> AssistantState:
        return self._state

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def hands_free(self) -> bool:
        return self._hands_free

    @property
    def muted(self) -> bool:
        return self._muted

    def preview_frame(self) -> TimedFrame | None:
        """The newest frame of the active source (for the GUI's preview timer); never blocks."""
        source = self._source
        return source.latest() if source is not None else None

    def wait_idle(self, timeout: float) -> bool:
        """Block until every command sent so far was handled and no turn runs (state idle or error).

        For tests and the CLI; False on timeout.
        """
        return self._idle.wait(timeout)

    # ------------------------------------------------------------------ commands
    def send_text(self, text: str) -> None:
        """Ask a typed question (with pending attachments and, by setting, the current view)."""
        self._idle.clear()  # wait_idle() right after this waits for the answer
        self._inbox.put(_Command("send_text", (text,)))

    def attach(self, path: str | Path) -> None:
        """Add an image, video or audio file to the next turn (a bad file gives an ErrorRaised)."""
        self._inbox.put(_Command("attach", (Path(path),)))

    def clear_attachments(self) -> None:
        self._inbox.put(_Command("clear_attachments"))

    def push_to_talk(self, down: bool) -> None:
        """Push-to-talk key down/up: down starts capturing (and interrupts an answer), up ends the turn."""
        self._inbox.put(_Command("push_to_talk", (down, self._clock())))

    def set_hands_free(self, on: bool) -> None:
        """Hands-free (voice activity starts turns) or push-to-talk only."""
        self._inbox.put(_Command("set_hands_free", (on,)))

    def stop(self) -> None:
        """Stop the current answer (generation, synthesis, playback) without starting a new turn."""
        self._inbox.put(_Command("stop", (self._clock(),)))

    def set_muted(self, muted: bool) -> None:
        """Muted: the microphone is ignored (a partial utterance is dropped); answers still play."""
        self._inbox.put(_Command("set_muted", (muted,)))

    def reset(self) -> None:
        """New conversation: stop the answer, forget the history and the pending attachments."""
        self._inbox.put(_Command("reset", (self._clock(),)))

    def set_source(
        self, kind: SourceKind, index: int = 0, region: tuple[int, int, int, int] | None = None
    ) -> None:
        """Switch the visual source: ``"camera"`` (index = camera), ``"screen"`` (index = monitor,
        optional ``region`` = left, top, width, height) or ``"off"``."""
        self._inbox.put(_Command("set_source", (kind, index, region)))

    def use_frame_source(self, source: FrameSource, kind: Literal["camera", "screen"] = "camera") -> None:
        """Look at an already built source (a video file standing in for a camera: replay, tests)."""
        self._inbox.put(_Command("use_frame_source", (source, kind)))

    def apply_settings(self, settings: Settings) -> None:
        """Apply new settings live; a changed model folder/quantization/device reloads the model."""
        self._inbox.put(_Command("apply_settings", (settings,)))

    # ------------------------------------------------------------------ events out
    def _emit(self, event: AssistantEvent) -> None:
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", callback, type(event).__name__)

    def _error(self, area: ProblemArea, error: BaseException, turn_id: int | None = None) -> None:
        if not isinstance(error, OlaError):
            log.error("unexpected %s in %s", type(error).__name__, area, exc_info=error)
            message = f"Something went wrong ({type(error).__name__}: {error}). The assistant keeps running."
        else:
            log.warning("%s error: %s", area, error)
            message = str(error)
        self._emit(ErrorRaised(area, message, type(error).__name__, turn_id, self._clock()))

    def _warn(self, area: ProblemArea, message: str) -> None:
        log.warning("%s: %s", area, message)
        self._emit(WarningRaised(area, message, self._clock()))

    def _set_state(self, state: AssistantState) -> None:
        if state == self._state:
            return
        previous, self._state = self._state, state
        self._emit(StateChanged(state, previous, self._hands_free, self._muted, self._clock()))

    # ------------------------------------------------------------------ the loop
    def _run_loop(self) -> None:
        while True:
            message = self._inbox.get()
            try:
                if isinstance(message, _Command) and message.name == "shutdown":
                    self._do_shutdown()
                    return
                self._handle(message)
            except Exception as error:  # errors never kill the loop
                self._error("internal", error)
            if self._inbox.empty() and self._answer is None and self._state in ("idle", "error"):
                self._idle.set()
            else:
                self._idle.clear()

    def _handle(self, message: _Message) -> None:
        if isinstance(message, _Command):
            getattr(self, f"_do_{message.name}")(*message.args)
        elif isinstance(message, SpeechStarted):
            self._on_speech_started(message)
        elif isinstance(message, SustainedSpeech):
            self._on_sustained_speech(message)
        elif isinstance(message, SpeechEnded):
            self._on_speech_ended(message)
        elif isinstance(message, _FirstSamplePlayed):
            if message.run is self._answer and self._state == "thinking":
                self._set_state("speaking")
        elif isinstance(message, _AnswerEnded):
            self._on_answer_ended(message)
        elif isinstance(message, DeviceLost | DeviceRestored):
            self._on_device(message)
        elif isinstance(message, Overflow):
            log.info("microphone overflow: %d blocks dropped (%d total)", message.count, message.total)
        elif isinstance(message, _Loaded | _LoadFailed):
            if self._components is None or message.engine is not self._components.engine:
                return  # the load of an engine replaced meanwhile
            self._loader = None
            if isinstance(message, _Loaded):
                self._emit(ModelLoaded(message.description, message.load_s, self._clock()))
                self._set_state("listening" if self._speech_active else "idle")
            else:
                self._error("model", message.error)
                self._set_state("error")

    # ------------------------------------------------------------------ command handlers
    def _do_start(self) -> None:
        self._components = self._components or build_components(
            self._settings, on_speech_error=lambda error: self._error("synthesis", error)
        )
        self._echo = self._echo_given or EchoGuard(
            self._settings.audio.echo_mode, on_warning=lambda m: self._warn("speaker", m)
        )
        if self._components.speech is not None:
            self._components.speech.set_reference_tap(self._echo.feed_reference)
        self._open_audio_input()
        if self._settings.vision.source != "off":
            index = (
                self._settings.vision.camera
                if self._settings.vision.source == "camera"
                else self._settings.vision.monitor
            )
            self._do_set_source(self._settings.vision.source, index, None)
        self._begin_loading()

    def _begin_loading(self) -> None:
        assert self._components is not None
        if self._loader is not None:  # a reload while loading: stop the old one first
            self._load_cancel.set()
            self._loader.join(10.0)
        self._set_state("loading")
        self._load_cancel = threading.Event()
        cancel = self._load_cancel
        engine = self._components.engine
        speech = self._components.speech

        def load() -> None:
            t0 = time.monotonic()
            try:
                if not engine.loaded:
                    engine.load(
                        progress=lambda fraction, stage: self._emit(
                            ModelLoadProgress(fraction, stage, self._clock())
                        ),
                        cancel=cancel,
                    )
                    engine.warm_up()  # one-off costs now, not in the first answer
                if speech is not None:
                    try:
                        speech.warm_up()
                    except OlaError as error:  # answers still come as text; the error says why not spoken
                        self._error("synthesis", error)
            except OlaError as error:
                self._inbox.put(_LoadFailed(engine, error))
                return
            except Exception as error:
                wrapped = GenerationError(f"The model could not be loaded ({type(error).__name__}: {error}).")
                wrapped.__cause__ = error
                self._inbox.put(_LoadFailed(engine, wrapped))
                return
            self._inbox.put(_Loaded(engine, engine.description, time.monotonic() - t0))

        self._loader = threading.Thread(target=load, name="assistant-load", daemon=True)
        self._loader.start()

    def _open_audio_input(self) -> None:
        assert self._components is not None
        audio = self._settings.audio
        if self._audio_input is not None:
            self._audio_input.close()
        self._audio_input = self._audio_input_given or MicrophoneInput(audio.microphone)
        try:
            self._audio_input.open(
                settings=audio,
                echo=self._echo,
                on_event=self._on_capture_event,
            )
        except OlaError as error:
            self._error("microphone", error)

    def _on_capture_event(self, event: CaptureEvent) -> None:
        """Called on the audio thread: levels go straight out, the rest to the loop."""
        if isinstance(event, LevelUpdate):
            self._emit_level(event)
        else:
            self._inbox.put(event)

    def _emit_level(self, event: LevelUpdate) -> None:
        if self._muted:
            self._emit(InputLevel(-100.0, -100.0, event.t))
        else:
            self._emit(InputLevel(event.rms_dbfs, event.peak_dbfs, event.t))

    def _do_shutdown(self) -> None:
        self._stopping = True
        self._load_cancel.set()
        self._interrupt("stopped", self._clock())
        if self._audio_input is not None:
            self._audio_input.close()
        if self._source is not None:
            self._source.stop()
            self._source = None
        if self._loader is not None:
            self._loader.join(5.0)
        if self._components is not None:
            self._components.close()

    def _do_send_text(self, text: str) -> None:
        text = text.strip()
        if not text and not self._pending.attachments:
            return
        if not self._ready_for_turn():
            return
        now = self._clock()
        self._interrupt("barge_in", now)
        frames: list[TimedFrame] = []
        if self._source is not None and self._settings.vision.attach_view_to_typed:
            latest = self._source.latest()
            if latest is not None:
                frames = [latest]
        trace = TraceRecorder(self._next_turn_id(), "text")
        trace.mark("t_turn_start", now)
        self._start_turn(trace, text=text, speech=None, frames=frames)

    def _do_attach(self, path: Path) -> None:
        try:
            check_attachment(path)
        except OlaError as error:
            self._error("media", error)
            return
        self._pending.attachments.append(path)
        self._emit(AttachmentsChanged(tuple(self._pending.attachments), self._clock()))

    def _do_clear_attachments(self) -> None:
        self._pending.attachments.clear()
        self._emit(AttachmentsChanged((), self._clock()))

    def _do_push_to_talk(self, down: bool, t: float) -> None:
        if self._audio_input is None or self._muted:
            return
        self._ptt_down = down
        if down and self._answer is not None:
            self._interrupt("barge_in", t)
        self._audio_input.push_to_talk(down, t)

    def _do_set_hands_free(self, on: bool) -> None:
        self._hands_free = on
        if self._audio_input is not None:
            self._audio_input.set_hands_free(on)
        self._emit(StateChanged(self._state, self._state, self._hands_free, self._muted, self._clock()))

    def _do_stop(self, t: float) -> None:
        self._interrupt("stopped", t)
        if self._speech_active and self._audio_input is not None:
            self._audio_input.drop_utterance()
            self._speech_active = False
        if self._state not in ("loading", "error"):
            self._set_state("idle")

    def _do_set_muted(self, muted: bool) -> None:
        self._muted = muted
        if self._audio_input is not None:
            self._audio_input.set_muted(muted)
        if muted and self._speech_active:
            self._speech_active = False
            if self._state == "listening":
                self._set_state("idle")
        self._emit(StateChanged(self._state, self._state, self._hands_free, self._muted, self._clock()))

    def _do_reset(self, t: float) -> None:
        self._interrupt("stopped", t)
        self._pending = _Pending()
        if self._components is not None and self._state not in ("loading", "error"):
            self._components.engine.reset()
        self._emit(AttachmentsChanged((), self._clock()))
        self._emit(ConversationReset(self._clock()))

    def _do_set_source(self, kind: SourceKind, index: int, region: tuple[int, int, int, int] | None) -> None:
        if self._source is not None:
            self._source.stop()
            self._source = None
        self._source_kind, self._source_index = "off", 0
        if kind != "off":
            try:
                source = open_source(
                    kind, index, region, self._settings.vision, on_event=self._on_capture_event
                )
                source.start()
            except OlaError as error:
                self._error("camera" if kind == "camera" else "screen", error)
                self._emit(SourceChanged("off", 0, self._clock()))
                return
            self._source, self._source_kind, self._source_index = source, kind, index
        self._emit(SourceChanged(self._source_kind, self._source_index, self._clock()))

    def _do_use_frame_source(self, source: FrameSource, kind: Literal["camera", "screen"]) -> None:
        if self._source is not None:
            self._source.stop()
        source.on_event = self._on_capture_event
        source.start()
        self._source, self._source_kind, self._source_index = source, kind, 0
        self._emit(SourceChanged(kind, 0, self._clock()))

    def _do_apply_settings(self, settings: Settings) -> None:
        old, self._settings = self._settings, settings
        if self._components is None:
            return
        if settings.audio.echo_mode != old.audio.echo_mode:
            self._echo.set_mode(settings.audio.echo_mode)
        if settings.audio.microphone != old.audio.microphone and self._audio_input_given is None:
            self._open_audio_input()
        elif self._audio_input is not None:
            self._audio_input.configure(settings.audio)
        if settings.audio.hands_free != old.audio.hands_free:
            self._do_set_hands_free(settings.audio.hands_free)
        if self._components.speech is not None:
            self._components.speech.configure(settings.voice, settings.audio.speaker, settings.language)
        if settings.vision != old.vision and self._source_kind != "off":
            self._do_set_source(self._source_kind, self._source_index, None)
        if settings.model != old.model:
            self._interrupt("stopped", self._clock())
            self._components.replace_engine(settings)
            self._begin_loading()

    # ------------------------------------------------------------------ speech events
    def _ready_for_turn(self) -> bool:
        if self._state == "loading":
            self._warn("model", "The model is still loading; ask again when it is ready.")
            return False
        if self._state == "error":
            self._warn("model", "No model is loaded. Open the settings and choose the model folder.")
            return False
        return True

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
            return
        if self._answer is not None or over_answer:
            # A short burst over the answer (cough, a word of echo): not a turn, not a barge-in.
            if self._state == "listening":
                self._set_state("idle")
            return
        if not self._ready_for_turn():
            if self._state == "listening":
                self._set_state("idle")
            return
        trace = TraceRecorder(self._next_turn_id(), "voice")
        trace.set(
            t_speech_start=event.t_first_voiced,
            t_last_voiced=event.t_last_voiced,
            t_endpoint=event.t_endpoint,
        )
        trace.mark("t_turn_start", self._clock())
        frames: list[TimedFrame] = []
        if self._source is not None:
            frames = self._source.frames_between(
                event.t_first_voiced, event.t_last_voiced, self._settings.vision.frames_per_turn
            )
        self._start_turn(trace, text="", speech=event.pcm, frames=frames)

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

    # ------------------------------------------------------------------ turns
    def _next_turn_id(self) -> int:
        self._turn_ids += 1
        return self._turn_ids

    def _start_turn(
        self, trace: TraceRecorder, *, text: str, speech: Any, frames: Sequence[TimedFrame]
    ) -> None:
        assert self._components is not None
        attachments = tuple(self._pending.attachments)
        self._pending = _Pending()
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
            )
        )
        run = AnswerRun(
            trace=trace,
            engine=self._components.engine,
            speech=self._components.speech if self._settings.voice.speak_answers else None,  # None: text only
            turn_args={
                "text": text,
                "speech": speech,
                "frames": frames,
                "frames_kind": kind,
                "attachments": attachments,
            },
            options=generation_settings(self._settings),
            emit=self._emit,
            on_first_sample=lambda r: self._inbox.put(_FirstSamplePlayed(r)),
            on_end=lambda r, outcome: self._inbox.put(_AnswerEnded(r, outcome)),
            clock=self._clock,
        )
        self._answer = run
        self._set_state("thinking")
        run.start()

    def _interrupt(self, outcome: Literal["barge_in", "stopped"], t: float) -> None:
        """Cancel the running answer (generation, synthesis, playback) and wait for it to stop."""
        run = self._answer
        if run is None:
            return
        t_loop = self._clock()
        run.cancel(outcome, t)
        t_cancelled = self._clock()
        result = run.wait_outcome()
        log.debug(
            "interrupt: queued %.1f ms, cancel calls %.1f ms, answer thread %.1f ms",
            (t_loop - t) * 1000,
            (t_cancelled - t_loop) * 1000,
            (self._clock() - t_cancelled) * 1000,
        )
        self._finish(run, result)

    def _on_answer_ended(self, message: _AnswerEnded) -> None:
        if message.run is self._answer:
            self._finish(message.run, message.outcome)

    def _finish(self, run: AnswerRun, outcome: AnswerOutcome) -> None:
        self._answer = None
        trace = run.trace
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
        if not self._stopping:
            self._set_state("listening" if self._speech_active else "idle")
