"""`Assistant`: the turn state machine and the threads of one conversation.

States (``ola_core.events.AssistantState``)::

    loading ─► idle ⇄ listening ─► thinking ─► speaking ─► idle
                 ▲                    │  barge-in / Stop     │
                 └────────────────────┴──────────────────────┘

Threads (docs/ARCHITECTURE.md lists every thread of the program): the **loop**
(``assistant-loop``) is the only one that changes the state; it takes typed commands
(:mod:`.messages`), capture and speech events and the threads' reports from one queue, and
nothing on it blocks: loading, each answer (``answer-N``, :mod:`.answer`) and each check of an
attached file (``attach-check``, :mod:`.attachments`) run on their own threads, and a barge-in
or Stop only sets the turn's cancel token. Subscribers get events on any of these threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from ola_core.assistant.answer import CANCEL_WAIT_S, AnswerOutcome, GenerationEnded
from ola_core.assistant.attachments import AttachmentChecked
from ola_core.assistant.audio_in import MicrophoneInput
from ola_core.assistant.base import Message, Pending
from ola_core.assistant.captions import transcribe
from ola_core.assistant.components import build_components
from ola_core.assistant.echo import EchoGuard
from ola_core.assistant.loading import start_loading
from ola_core.assistant.messages import (
    ApplySettings,
    Attach,
    ClearAttachments,
    Command,
    Loaded,
    LoadFailed,
    PushToTalk,
    Reset,
    SendText,
    SetHandsFree,
    SetMuted,
    SetSource,
    Shutdown,
    Start,
    Stop,
    UseFrameSource,
)
from ola_core.assistant.sources import open_source
from ola_core.assistant.turns import TurnLifecycle
from ola_core.capture.events import (
    CaptureEvent,
    DeviceLost,
    DeviceRestored,
    LevelUpdate,
    Overflow,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SustainedSpeech,
)
from ola_core.capture.frames import FrameSource, TimedFrame
from ola_core.errors import OlaError
from ola_core.events import (
    AssistantState,
    AttachmentsChanged,
    ConversationReset,
    InputLevel,
    ModelLoaded,
    ModelLoadProgress,
    SourceChanged,
    SourceKind,
    StateChanged,
    Subscriber,
)
from ola_core.settings import Settings
from ola_core.speech.pipeline import SpeechEvent
from ola_core.trace import TraceRecorder

log = logging.getLogger(__name__)


class Assistant(TurnLifecycle):
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
        self._inbox.put(Start())

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop everything and release devices and threads; the object cannot be started again."""
        if self._loop_thread is None:
            return
        self._inbox.put(Shutdown())
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

    def transcribe(self, samples: np.ndarray, rate: int) -> str:
        """What a clip says, read by the loaded model's Whisper (seconds: call it off the GUI thread)."""
        return transcribe(self._components.engine if self._components is not None else None, samples, rate)

    # ------------------------------------------------------------------ commands
    def send_text(self, text: str) -> None:
        """Ask a typed question (with pending attachments and, by setting, the current view)."""
        self._idle.clear()  # wait_idle() right after this waits for the answer
        self._inbox.put(SendText(text))

    def attach(self, path: str | Path) -> None:
        """Add an image, video or audio file to the next turn (a bad file gives an ErrorRaised)."""
        self._inbox.put(Attach(Path(path)))

    def clear_attachments(self) -> None:
        self._inbox.put(ClearAttachments())

    def push_to_talk(self, down: bool) -> None:
        """Push-to-talk key down/up: down starts capturing (and interrupts an answer), up ends the turn."""
        self._inbox.put(PushToTalk(down, self._clock()))

    def set_hands_free(self, on: bool) -> None:
        """Hands-free (voice activity starts turns) or push-to-talk only."""
        self._inbox.put(SetHandsFree(on))

    def stop(self) -> None:
        """Stop the current answer (generation, synthesis, playback) without starting a new turn."""
        self._inbox.put(Stop(self._clock()))

    def set_muted(self, muted: bool) -> None:
        """Muted: the microphone is ignored (a partial utterance is dropped); answers still play."""
        self._inbox.put(SetMuted(muted))

    def reset(self, past: tuple[tuple[str, str], ...] = ()) -> None:
        """New conversation (continuing the text turns ``past``, e.g. reopened from the history)."""
        self._inbox.put(Reset(self._clock(), tuple(past)))

    def set_source(
        self, kind: SourceKind, index: int = 0, region: tuple[int, int, int, int] | None = None
    ) -> None:
        """Switch the visual source: ``"camera"`` (index = camera), ``"screen"`` (index = monitor,
        optional ``region`` = left, top, width, height) or ``"off"``."""
        self._inbox.put(SetSource(kind, index, region))

    def use_frame_source(self, source: FrameSource, kind: Literal["camera", "screen"] = "camera") -> None:
        """Look at an already built source (a video file standing in for a camera: replay, tests)."""
        self._inbox.put(UseFrameSource(source, kind))

    def apply_settings(self, settings: Settings) -> None:
        """Apply new settings live; a changed model folder/quantization/device reloads the model."""
        self._inbox.put(ApplySettings(settings))

    # ------------------------------------------------------------------ the loop
    def _run_loop(self) -> None:
        while True:
            message = self._inbox.get()
            if isinstance(message, Command):  # anything the user does makes a speculated turn stale
                self._drop_speculation()
            try:
                if isinstance(message, Shutdown):
                    self._do_shutdown()
                    return
                self._handle(message)
            except Exception as error:  # errors never kill the loop
                self._error("internal", error)
            if (
                self._inbox.empty()
                and self._answer is None
                and not self._ending
                and not self._checks.busy
                and self._state in ("idle", "error")
            ):
                self._idle.set()
            else:
                self._idle.clear()

    def _handle(self, message: Message) -> None:
        match message:
            case Start():
                self._do_start()
            case SendText(text):
                self._do_send_text(text)
            case Attach(path):
                self._checks.start(path)
            case AttachmentChecked():
                self._on_attachment_checked(message)
            case ClearAttachments():
                self._do_clear_attachments()
            case PushToTalk(down, t):
                self._do_push_to_talk(down, t)
            case SetHandsFree(on):
                self._do_set_hands_free(on)
            case Stop(t):
                self._do_stop(t)
            case SetMuted(muted):
                self._do_set_muted(muted)
            case Reset(t, past):
                self._do_reset(t, past)
            case SetSource(kind, index, region):
                self._do_set_source(kind, index, region)
            case UseFrameSource(source, kind):
                self._do_use_frame_source(source, kind)
            case ApplySettings(settings):
                self._do_apply_settings(settings)
            case SpeechStarted() | SustainedSpeech() | SpeechPaused() | SpeechResumed() | SpeechEnded():
                self._on_utterance(message)
            case DeviceLost() | DeviceRestored():
                self._on_device(message)
            case Overflow(count=count, total=total):
                log.info("microphone overflow: %d blocks dropped (%d total)", count, total)
            case GenerationEnded(run, outcome):
                run.generation = outcome
                self._finish_if_over(run)
            case Loaded() | LoadFailed():
                self._on_load_result(message)
            case _ if isinstance(message, SpeechEvent):
                self._on_speech_event(message)

    def _on_load_result(self, message: Loaded | LoadFailed) -> None:
        if self._components is None or message.engine is not self._components.engine:
            return  # the load of an engine replaced meanwhile
        self._loader = None
        if isinstance(message, Loaded):
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
        if self._components.speech is not None:
            self._components.speech.set_listener(self._inbox.put)
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
        previous = self._loader
        if previous is not None:  # a reload while loading: the old one is told to stop, the new waits for it
            self._load_cancel.set()
        self._set_state("loading")
        self._load_cancel = threading.Event()
        self._loader = start_loading(
            self._components.engine,
            self._components.speech,
            progress=lambda fraction, stage: self._emit(ModelLoadProgress(fraction, stage, self._clock())),
            on_speech_error=lambda error: self._error("synthesis", error),
            post=self._inbox.put,
            cancel=self._load_cancel,
            after=previous if previous is not None and previous.is_alive() else None,
        )

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
        if not isinstance(event, LevelUpdate):
            self._inbox.put(event)
            return
        level = (-100.0, -100.0) if self._muted else (event.rms_dbfs, event.peak_dbfs)
        self._emit(InputLevel(*level, event.t))

    def _do_shutdown(self) -> None:
        self._stopping = True
        self._load_cancel.set()
        self._interrupt("stopped", self._clock())
        for run in self._ending:  # the loop ends: collect the cancelled runs here, not from messages
            run.join(CANCEL_WAIT_S)
            run.generation = run.generation or AnswerOutcome("stopped", run.text)
            self._finish(run, run.outcome())
        self._ending.clear()
        if self._audio_input is not None:
            self._audio_input.close()
        if self._source is not None:
            self._source.stop()
            self._source = None
        if self._loader is not None:
            self._loader.join(5.0)
        if self._captions is not None:
            self._captions.close(wait_s=CANCEL_WAIT_S)  # its thread must not outlive the interpreter
        if self._components is not None:
            self._components.close()

    def _do_send_text(self, text: str) -> None:
        text = text.strip()
        if self._checks.defer(text):  # its attachments are still being checked
            return
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

    def _on_attachment_checked(self, message: AttachmentChecked) -> None:
        if not self._checks.accept(message):
            return
        if message.error is not None:
            self._error("media", message.error)
        else:
            self._pending.add(message.path, message.previews)
            self._emit(AttachmentsChanged(tuple(self._pending.attachments), self._clock()))
        for text in self._checks.ready_questions():
            self._do_send_text(text)

    def _do_clear_attachments(self) -> None:
        self._checks.forget()
        self._pending.clear()
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

    def _do_reset(self, t: float, past: tuple[tuple[str, str], ...]) -> None:
        self._interrupt("stopped", t)
        self._checks.forget()
        self._pending = Pending()
        self._forget_past_audio()
        if self._components is not None and self._state not in ("loading", "error"):
            self._components.engine.reset(past)
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
