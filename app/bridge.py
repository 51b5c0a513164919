"""Assistant events → Qt signals, delivered on the GUI thread.

The Assistant calls its subscribers on its worker threads (loop, generation, playback). The
bridge's callback does one thing there: emit ``_incoming`` with the event. That signal is
connected to :meth:`_dispatch` with a *queued* connection, so the event crosses to the thread
the bridge lives in (the GUI thread) through Qt's event queue and is re-emitted there as a typed
signal. Widgets therefore only ever run on the GUI thread and never touch the Assistant's locks.

Microphone levels arrive about 30 times a second; only the newest one pending is delivered, so
a busy GUI thread never works through a backlog of stale levels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot

from ola_core import events as ev
from ola_core.media_types import TimedFrame
from ola_core.settings import Settings

Region = tuple[int, int, int, int]  # left, top, width, height: the part of a screen to share


class AssistantLike(Protocol):
    """The part of :class:`ola_core.assistant.Assistant` the window uses; the window calls these directly."""

    @property
    def state(self) -> ev.AssistantState: ...
    def subscribe(self, callback: ev.Subscriber) -> Callable[[], None]: ...
    def send_text(self, text: str) -> None: ...
    def attach(self, path: str | Path) -> None: ...
    def clear_attachments(self) -> None: ...
    def push_to_talk(self, down: bool) -> None: ...
    def set_hands_free(self, on: bool) -> None: ...
    def stop(self) -> None: ...
    def set_muted(self, muted: bool) -> None: ...
    def reset(self) -> None: ...
    def set_source(self, kind: ev.SourceKind, index: int = 0, region: Region | None = None) -> None: ...
    def apply_settings(self, settings: Settings) -> None: ...
    def preview_frame(self) -> TimedFrame | None: ...
    def shutdown(self, timeout: float = 10.0) -> None: ...


class AssistantBridge(QObject):
    state_changed = Signal(object)  # ev.StateChanged
    input_level = Signal(object)  # ev.InputLevel
    user_turn = Signal(object)  # ev.UserTurnCaptured
    user_caption = Signal(object)  # ev.UserCaption
    text_delta = Signal(object)  # ev.AssistantTextDelta
    sentence_spoken = Signal(object)  # ev.SentenceSpoken
    turn_finished = Signal(object)  # ev.TurnFinished
    warning = Signal(object)  # ev.WarningRaised
    error = Signal(object)  # ev.ErrorRaised
    load_progress = Signal(object)  # ev.ModelLoadProgress
    model_loaded = Signal(object)  # ev.ModelLoaded
    device_event = Signal(object)  # ev.DeviceEvent
    source_changed = Signal(object)  # ev.SourceChanged
    attachments_changed = Signal(object)  # ev.AttachmentsChanged
    conversation_reset = Signal(object)  # ev.ConversationReset

    _incoming = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._incoming.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._routes: dict[type, SignalInstance] = {
            ev.StateChanged: self.state_changed,
            ev.InputLevel: self.input_level,
            ev.UserTurnCaptured: self.user_turn,
            ev.UserCaption: self.user_caption,
            ev.AssistantTextDelta: self.text_delta,
            ev.SentenceSpoken: self.sentence_spoken,
            ev.TurnFinished: self.turn_finished,
            ev.WarningRaised: self.warning,
            ev.ErrorRaised: self.error,
            ev.ModelLoadProgress: self.load_progress,
            ev.ModelLoaded: self.model_loaded,
            ev.DeviceEvent: self.device_event,
            ev.SourceChanged: self.source_changed,
            ev.AttachmentsChanged: self.attachments_changed,
            ev.ConversationReset: self.conversation_reset,
        }
        self._level_lock = threading.Lock()
        self._pending_level: ev.InputLevel | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, subscribe: Callable[[ev.Subscriber], Callable[[], None]]) -> None:
        """Subscribe to an assistant (``assistant.subscribe``); replaces a previous subscription."""
        self.detach()
        self._unsubscribe = subscribe(self.post)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def post(self, event: ev.AssistantEvent) -> None:
        """The subscriber: callable from any thread, returns at once."""
        if isinstance(event, ev.InputLevel):
            with self._level_lock:
                stale = self._pending_level is not None
                self._pending_level = event
            if stale:  # one delivery is already queued; it will carry this newer level
                return
        self._incoming.emit(event)

    @Slot(object)
    def _dispatch(self, event: object) -> None:
        if isinstance(event, ev.InputLevel):
            with self._level_lock:
                event, self._pending_level = self._pending_level, None
            if event is None:
                return
        signal = self._routes.get(type(event))
        if signal is not None:
            signal.emit(event)
