"""Real assistant events and frames for the GUI tests and the screenshot script (no torch here:
the screenshot script runs in its own process and must start fast)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np

from ola_core import events as ev
from ola_core.media_types import TimedFrame
from ola_core.trace import TurnTrace


def frames(n: int = 4, size: tuple[int, int] = (120, 160)) -> tuple[TimedFrame, ...]:
    """Distinct synthetic frames (a square moving right), as a camera would deliver."""
    out = []
    for i in range(n):
        rgb = np.zeros((*size, 3), np.uint8)
        rgb[..., 2] = 60 + 30 * i
        rgb[30:90, 10 + 25 * i : 50 + 25 * i] = (250, 200, 60)
        out.append(TimedFrame(rgb, time.monotonic()))
    return tuple(out)


def trace(turn_id: int, kind: str = "voice", outcome: str = "completed") -> TurnTrace:
    t = 100.0
    return TurnTrace(
        turn_id=turn_id,
        kind=kind,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
        t_speech_start=t if kind == "voice" else None,
        t_last_voiced=t + 3.0 if kind == "voice" else None,
        t_endpoint=t + 3.7 if kind == "voice" else None,
        t_turn_start=t + 3.71,
        t_first_token=t + 4.05,
        t_first_sentence=t + 4.3,
        t_first_audio=t + 4.5,
        t_first_played=t + 4.55,
        t_end=t + 7.0,
        prompt_tokens=812,
        new_tokens=60,
        tokens_per_s=21.5,
        frames_used=4,
        speech_s=3.0,
        peak_memory_bytes=8_300_000_000,
    )


def feed(post, events: Sequence[ev.AssistantEvent], pace_s: float = 0.0) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Deliver ``events`` from a worker thread, as the Assistant does."""

    def run() -> None:
        for event in events:
            post(event)
            if pace_s:
                time.sleep(pace_s)

    thread = threading.Thread(target=run, name="fake-assistant-thread", daemon=True)
    thread.start()
    return thread


def answer_events(turn_id: int, text: str, chunk: int = 6) -> Iterator[ev.AssistantTextDelta]:
    for k in range(0, len(text), chunk):
        yield ev.AssistantTextDelta(turn_id, text[k : k + chunk], time.monotonic())


class StallMeter:
    """Ticks every 5 ms on the GUI thread and records, per tick, the wall-clock gap and the GUI
    thread's own CPU time since the previous tick (the work the window did at once).

    Long-lived objects are frozen out of the garbage collector first, as the app does after
    start-up and after loading a model.
    """

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        from app.main import freeze_long_lived_objects

        freeze_long_lived_objects()
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._last = (time.perf_counter(), time.thread_time())
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = (time.perf_counter(), time.thread_time())
        self.wall.append(now[0] - self._last[0])
        self.cpu.append(now[1] - self._last[1])
        self._last = now

    def start(self) -> None:
        self._last = (time.perf_counter(), time.thread_time())
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def report(self, what: str) -> tuple[float, float]:
        """(max CPU per tick, max wall gap) in seconds, the first tick excluded; printed too."""
        cpu, wall = max(self.cpu[1:]), max(self.wall[1:])
        print(
            f"GUI thread {what}: max CPU per tick {cpu * 1000:.1f} ms, "
            f"max wall gap {wall * 1000:.1f} ms over {len(self.wall)} ticks"
        )
        return cpu, wall
