"""A visitor's session at the booth: when it ends (idle reset), what ending it wipes, rate limits.

:class:`BoothSession` sits beside the :class:`~ola_core.assistant.Assistant` (no Qt): it watches
the assistant's events, is told about taps and people in view, and is ticked about once a second
(the window's timer, or a test). A session ends ``idle_reset_s`` after the last sign of a visitor
(speech, a turn, a tap, a person in view) or on "Start over"; ending it wipes the visitor:

* the engine's conversation and KV cache and the pending attachments (``Assistant.reset``);
* the frames buffer (the camera is reopened: its ring buffer goes with the old source);
* the captions (subscribers get ``on_wipe``) and the latency trace (never written: booth turns
  off ``trace_file``; the daily log gets numbers only);
* nothing was ever written to disk: the booth runs with ``keep_history`` off and no recorder.

The test (tests/booth/test_wipe.py) walks the object graph from the assistant after a reset and
finds no trace of the visitor's words.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ola_core.booth.config import BoothConfig
from ola_core.booth.health import DailyLog
from ola_core.events import AssistantEvent, StateChanged, TurnFinished, UserTurnCaptured
from ola_core.settings import Settings

RATE_WINDOW_S = 60.0


class IdlePolicy:
    """The visitor's session is open from the first sign of them until ``idle_reset_s`` of nothing."""

    def __init__(self, idle_reset_s: float) -> None:
        self.idle_reset_s = idle_reset_s
        self.active = False  # something of a visitor happened since the last reset
        self.busy = False  # a turn runs: never reset under it
        self._last = 0.0

    def activity(self, t: float) -> None:
        self.active = True
        self._last = max(self._last, t)

    def due(self, now: float) -> bool:
        return self.active and not self.busy and now - self._last >= self.idle_reset_s

    def reset(self) -> None:
        self.active = False
        self.busy = False


class RateLimiter:
    """At most ``per_minute`` turns in any 60 s."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: collections.deque[float] = collections.deque()

    def allow(self, now: float) -> bool:
        while self._times and now - self._times[0] >= RATE_WINDOW_S:
            self._times.popleft()
        if len(self._times) >= self.per_minute:
            return False
        self._times.append(now)
        return True


@dataclass(frozen=True)
class Notice:
    """Something the booth screen shows (no visitor content): ``kind`` is a fixed word."""

    kind: str  # "reset", "rate_limited", "turn_too_long"
    reason: str = ""


def booth_settings(settings: Settings, config: BoothConfig) -> Settings:
    """The user's settings with the operator's guard rails: persona, answer length, language,
    hands-free, no history, no trace file (a booth keeps nothing of its visitors)."""
    generation = dataclasses.replace(
        settings.generation,
        system_prompt=config.booth.persona,
        max_new_tokens=config.limits.max_answer_tokens,
    )
    audio = dataclasses.replace(settings.audio, hands_free=True)
    vision = dataclasses.replace(
        settings.vision,
        source="camera" if config.booth.camera >= 0 else "off",
        camera=max(config.booth.camera, 0),
    )
    return settings.replace(
        generation=generation,
        audio=audio,
        vision=vision,
        language=config.booth.language,
        keep_history=False,
        trace_file=None,
    )


class BoothSession:
    """The session policy around one assistant; see the module docstring."""

    def __init__(
        self,
        assistant: object,
        config: BoothConfig,
        *,
        daily_log: DailyLog | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._assistant = assistant
        self.config = config
        self.idle = IdlePolicy(config.booth.idle_reset_s)
        self.rate = RateLimiter(config.limits.turns_per_minute)
        self._log = daily_log
        self._clock = clock
        self._lock = threading.Lock()
        self._turn_started: float | None = None
        self._stopped_turn = False
        self._listeners: list[Callable[[Notice], None]] = []
        self.resets = 0
        self._unsubscribe = assistant.subscribe(self._on_event)  # type: ignore[attr-defined]

    def on_notice(self, callback: Callable[[Notice], None]) -> None:
        """``callback(notice)`` on a reset, a refused or a stopped turn (from any thread)."""
        self._listeners.append(callback)

    # ------------------------------------------------------------------ signs of a visitor
    def tapped(self) -> None:
        self.idle.activity(self._clock())

    def person_seen(self) -> None:
        self.idle.activity(self._clock())

    def ask(self, text: str) -> bool:
        """A typed question (touch keyboard, rehearsal); False when over the rate limit."""
        now = self._clock()
        self.idle.activity(now)
        if not self.rate.allow(now):
            self._notify(Notice("rate_limited"))
            return False
        self._assistant.send_text(text)  # type: ignore[attr-defined]
        return True

    # ------------------------------------------------------------------ policy
    def tick(self) -> None:
        """Called about once a second: end an idle session, stop a turn that ran too long."""
        now = self._clock()
        with self._lock:
            started = self._turn_started
            too_long = started is not None and now - started > self.config.limits.max_turn_s
            if too_long:
                self._turn_started = None
        if too_long:
            self._assistant.stop()  # type: ignore[attr-defined]
            self._notify(Notice("turn_too_long"))
        if self.idle.due(now):
            self.start_over("idle")

    def start_over(self, reason: str = "start_over") -> None:
        """End the visitor's session and wipe it (see the module docstring)."""
        self.idle.reset()
        with self._lock:
            self._turn_started = None
        assistant = self._assistant
        assistant.reset()  # type: ignore[attr-defined]
        assistant.clear_attachments()  # type: ignore[attr-defined]
        settings: Settings = assistant.settings  # type: ignore[attr-defined]
        if settings.vision.source == "camera":
            assistant.set_source("camera", settings.vision.camera)  # type: ignore[attr-defined]
        self.resets += 1
        if self._log is not None:
            self._log.record_reset(reason)
        self._notify(Notice("reset", reason))

    def close(self) -> None:
        self._unsubscribe()

    # ------------------------------------------------------------------ events (assistant threads)
    def _on_event(self, event: AssistantEvent) -> None:
        now = self._clock()
        if isinstance(event, StateChanged):
            if event.state in ("listening", "thinking", "speaking"):
                self.idle.activity(now)
            self.idle.busy = event.state in ("listening", "thinking", "speaking")
        elif isinstance(event, UserTurnCaptured):
            self.idle.activity(now)
            if event.kind == "voice" and not self.rate.allow(now):
                self._assistant.stop()  # type: ignore[attr-defined]
                self._notify(Notice("rate_limited"))
                return
            with self._lock:
                self._turn_started = now
        elif isinstance(event, TurnFinished):
            self.idle.activity(now)
            with self._lock:
                self._turn_started = None
            if self._log is not None:
                self._log.record_turn(event.trace)

    def _notify(self, notice: Notice) -> None:
        for callback in list(self._listeners):
            callback(notice)
