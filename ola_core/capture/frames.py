"""The sampled frame history, and the interface every frame source shares.

A turn needs the frames that were on screen or on camera while the person spoke: the camera
runs at 30 fps, but Ola looks at a handful of frames per turn, so each source keeps

* the latest frame (for the preview), and
* a history sampled at a low rate (default 2 fps) over the last ``history_s`` seconds,

and a turn asks for ``frames_between(speech_start, speech_end, max_frames)``. Frames are
:class:`~ola_core.media_types.TimedFrame` objects: RGB uint8 numpy arrays stamped with
``time.monotonic()``, the same clock as the endpointer's events.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from types import TracebackType

import numpy as np

from ola_core.capture.events import DeviceKind, DeviceLost, DeviceRestored, EventCallback, ignore_event
from ola_core.errors import OlaError
from ola_core.media_types import TimedFrame, spread

log = logging.getLogger(__name__)


class FrameBuffer:
    """Thread-safe latest frame + history sampled at ``sample_fps`` over the last ``history_s`` seconds.

    Sampling follows a fixed schedule (one slot every ``1/sample_fps`` s) rather than "at least
    a period since the last kept frame", so a 30 fps source sampled at 2 fps really yields 2 fps
    and not ~1.9 (the period is never an exact multiple of the frame interval).
    """

    def __init__(self, sample_fps: float = 2.0, history_s: float = 30.0) -> None:
        if sample_fps <= 0 or history_s <= 0:
            raise ValueError("sample_fps and history_s must be positive")
        self.sample_fps = sample_fps
        self.history_s = history_s
        self._period = 1.0 / sample_fps
        self._history: deque[TimedFrame] = deque()
        self._latest: TimedFrame | None = None
        self._next_due = -np.inf
        self._cond = threading.Condition()

    def offer(self, frame: TimedFrame) -> None:
        """Make ``frame`` the latest and keep it in the history when a sampling slot is due."""
        with self._cond:
            self._latest = frame
            if frame.t >= self._next_due:
                self._history.append(frame)
                self._next_due += self._period
                if self._next_due <= frame.t:  # first frame, or the source paused: restart the schedule
                    self._next_due = frame.t + self._period
            while self._history and self._history[0].t < frame.t - self.history_s:
                self._history.popleft()
            self._cond.notify_all()

    def latest(self) -> TimedFrame | None:
        """The newest frame, or None before the first."""
        with self._cond:
            return self._latest

    def history(self) -> list[TimedFrame]:
        """The sampled frames, oldest first."""
        with self._cond:
            return list(self._history)

    def clear(self) -> None:
        """Forget every frame (e.g. when the user switches source)."""
        with self._cond:
            self._history.clear()
            self._latest = None
            self._next_due = -np.inf

    def wait_for_frame(self, after: float, timeout: float) -> TimedFrame | None:
        """Block until a frame newer than ``after`` arrives; None on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.t <= after:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._latest

    def frames_between(self, t0: float, t1: float, max_frames: int = 8) -> list[TimedFrame]:
        """The sampled frames with ``t0 <= t <= t1``, at most ``max_frames``, uniformly spread.

        A turn always gets a picture when there is one: if no frame lies inside the window (a
        short utterance between two samples), the newest frame before ``t1`` is returned, or the
        oldest one after it when the source started late. Empty only when there is no frame.
        """
        with self._cond:
            candidates = list(self._history)
            if self._latest is not None and (not candidates or candidates[-1] is not self._latest):
                candidates.append(self._latest)
        inside = [f for f in candidates if t0 <= f.t <= t1]
        if inside:
            return spread(inside, max_frames)
        before = [f for f in candidates if f.t <= t1]
        if before:
            return [before[-1]]
        return candidates[:1]


class FrameSource(ABC):
    """What the assistant sees of a camera or a screen: start/stop, the latest frame, a turn's frames.

    Failures of the device are reported as :class:`DeviceLost` / :class:`DeviceRestored` events
    through ``on_event`` (called on the source's thread), never raised from the capture thread.
    """

    kind: DeviceKind

    def __init__(
        self, *, sample_fps: float = 2.0, history_s: float = 30.0, on_event: EventCallback = ignore_event
    ) -> None:
        self.buffer = FrameBuffer(sample_fps, history_s)
        self.on_event = on_event

    @property
    @abstractmethod
    def name(self) -> str:
        """Human-readable name of what is captured (shown in events and the GUI)."""

    @abstractmethod
    def start(self) -> None:
        """Begin capturing (idempotent)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop capturing and release the device (idempotent); frames already taken stay readable."""

    def latest(self) -> TimedFrame | None:
        """The newest frame for the preview, or None before the first."""
        return self.buffer.latest()

    def frames_between(self, t0: float, t1: float, max_frames: int = 8) -> list[TimedFrame]:
        """See :meth:`FrameBuffer.frames_between`."""
        return self.buffer.frames_between(t0, t1, max_frames)

    def __enter__(self) -> FrameSource:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class PollingFrameSource(FrameSource):
    """A frame source read by one worker thread: open, read in a loop, report loss, retry.

    Subclasses implement ``_open`` (raise an :class:`OlaError` when the device is not there),
    ``_read`` (an RGB frame, or None when the device stopped delivering), ``_close`` and
    ``_period`` (seconds between reads, 0 when ``_read`` itself blocks until the next frame).
    All device calls happen on the worker thread: OpenCV and mss handles are not thread-safe.
    """

    retry_s = 1.0  # between attempts to (re)open a lost device

    def __init__(
        self, *, sample_fps: float = 2.0, history_s: float = 30.0, on_event: EventCallback = ignore_event
    ) -> None:
        super().__init__(sample_fps=sample_fps, history_s=history_s, on_event=on_event)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False  # True between a DeviceLost and the next DeviceRestored
        self.frame_count = 0  # frames delivered since construction (rates, benchmarks)

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _read(self) -> np.ndarray | None: ...  # (H, W, 3) uint8 RGB

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _period(self) -> float: ...

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.kind}-capture", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    @property
    def running(self) -> bool:
        """True while the worker thread runs (also while it waits for a lost device)."""
        return self._thread is not None and self._thread.is_alive()

    def _report_lost(self, message: str) -> None:
        if not self.lost:
            self.lost = True
            log.warning("%s lost: %s", self.name, message)
            self.on_event(DeviceLost(self.kind, self.name, message, time.monotonic()))

    def _run(self) -> None:
        opened = False
        was_lost = False
        next_t = time.monotonic()
        try:
            while not self._stop.is_set():
                if not opened:
                    try:
                        self._open()
                    except OlaError as error:
                        self._report_lost(str(error))
                        was_lost = True
                        self._stop.wait(self.retry_s)
                        continue
                    opened = True
                    next_t = time.monotonic()
                try:
                    rgb = self._read()
                except Exception:  # a driver error must not end the thread: treat it as a lost device
                    log.exception("reading from %s %s failed", self.kind, self.name)
                    rgb = None
                if rgb is None:
                    self._close()
                    opened = False
                    self._report_lost(
                        f"The {self.name} stopped delivering frames (disconnected, or in use "
                        "by another application); retrying every second."
                    )
                    was_lost = True
                    self._stop.wait(self.retry_s)
                    continue
                now = time.monotonic()
                if was_lost:
                    was_lost = self.lost = False
                    self.on_event(DeviceRestored(self.kind, self.name, now))
                self.buffer.offer(TimedFrame(rgb, now))
                self.frame_count += 1
                period = self._period()
                if period > 0:
                    next_t = max(next_t + period, now - period)  # never burst to catch up
                    self._stop.wait(max(0.0, next_t - time.monotonic()))
        finally:
            if opened:
                self._close()
