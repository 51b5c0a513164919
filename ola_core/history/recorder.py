"""Writes the assistant's conversation into the history as its events arrive.

A subscriber of :class:`~ola_core.assistant.Assistant` (called on its worker threads): a user
turn opens a conversation on its first turn and adds a row (with small JPEG thumbnails of the
frames the model used), a caption fills in what a voice turn said, the turn's end writes the
answer and its trace. Turns are found by the assistant's turn id, so an answer that ends after
a reset still lands in the conversation it belongs to. A reset starts a new conversation, unless
:meth:`HistoryRecorder.resume` asked to continue a saved one.
"""

from __future__ import annotations

import logging
import threading

import cv2
import numpy as np

from ola_core import events as ev
from ola_core.history.store import HistoryError, HistoryStore
from ola_core.media_types import TimedFrame

__all__ = ["HistoryRecorder", "thumbnail"]

log = logging.getLogger(__name__)

THUMB_SIDE = 160  # pixels: enough to recognise a frame in a sidebar or an export
MAX_THUMBS = 8  # per turn
KEPT_TURNS = 64  # turns whose rows are remembered: a caption may come after its answer ended


def thumbnail(rgb: np.ndarray, side: int = THUMB_SIDE) -> bytes:
    """A small JPEG of an RGB frame (longest side ``side``)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, side / max(height, width))
    small = cv2.resize(
        rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def _thumbnails(frames: tuple[TimedFrame, ...]) -> tuple[bytes, ...]:
    if len(frames) > MAX_THUMBS:
        picks = np.linspace(0, len(frames) - 1, MAX_THUMBS).round().astype(int)
        frames = tuple(frames[i] for i in picks)
    return tuple(thumbnail(f.rgb) for f in frames)


class HistoryRecorder:
    """Subscribe it to an assistant; it writes into ``store``."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._current: int | None = None  # the conversation new turns go to (None: open one)
        self._keep_on_reset = False
        self._rows: dict[int, int] = {}  # assistant turn id -> turns row

    @property
    def conversation_id(self) -> int | None:
        """The conversation being recorded (None until its first turn)."""
        with self._lock:
            return self._current

    def resume(self, conversation_id: int) -> None:
        """New turns continue this saved conversation, also across the reset that reopens it."""
        with self._lock:
            self._current, self._keep_on_reset = conversation_id, True

    def new_conversation(self) -> None:
        """The next turn opens a new conversation (the old one stays in the history)."""
        with self._lock:
            self._current, self._keep_on_reset = None, False

    def __call__(self, event: ev.AssistantEvent) -> None:
        try:
            self._record(event)
        except HistoryError as error:  # the conversation goes on; the history misses this part
            log.warning("%s", error)

    def _record(self, event: object) -> None:
        if isinstance(event, ev.UserTurnCaptured):
            thumbs = _thumbnails(event.frames)
            with self._lock:
                if self._current is None:
                    self._current = self.store.create()
                self._rows = {k: v for k, v in self._rows.items() if k > event.turn_id - KEPT_TURNS}
                self._rows[event.turn_id] = self.store.add_turn(
                    self._current,
                    kind=event.kind,
                    user_text=event.text,
                    duration_s=event.duration_s,
                    attachments=tuple(p.name for p in event.attachments),
                    frames_kind=event.frames_kind,
                    thumbnails=thumbs,
                )
        elif isinstance(event, ev.TurnFinished):
            with self._lock:
                row = self._rows.get(event.turn_id)
            if row is not None:
                self.store.finish_turn(row, event.text, event.outcome, event.trace.to_dict())
        elif isinstance(event, ev.ConversationReset):
            with self._lock:
                if not self._keep_on_reset:
                    self._current = None
                self._keep_on_reset = False
        elif isinstance(event, ev.UserCaption):
            with self._lock:
                row = self._rows.get(event.turn_id)
            if row is not None:
                self.store.set_caption(row, event.text, event.language)
