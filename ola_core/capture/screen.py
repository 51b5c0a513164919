"""The screen (a monitor, or a rectangle of it) as a :class:`~ola_core.capture.frames.FrameSource`.

mss grabs at a low rate on the source's thread (``fps``, default 1), or only on demand
(``fps=0``): then a turn's frame is grabbed when the turn asks for it, at speech end, which
costs nothing while nobody talks. mss handles belong to the thread that made them, so the
worker and :meth:`ScreenSource.grab` each use their own.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ola_core.capture.camera import fit_max_side
from ola_core.capture.events import EventCallback, ignore_event
from ola_core.capture.frames import PollingFrameSource, TimedFrame
from ola_core.errors import ScreenCaptureError

Region = tuple[int, int, int, int]  # left, top, width, height in pixels, relative to the monitor


@dataclass(frozen=True)
class MonitorInfo:
    """A monitor of the display, as :meth:`ScreenSource.monitors` (and the device menus) list it."""

    index: int  # mss numbering: 1 = first monitor, 0 = all of them together
    left: int
    top: int
    width: int
    height: int


def _open_mss() -> Any:
    import mss

    try:
        return mss.MSS()
    except Exception as error:  # mss raises its own ScreenShotError or XError subclasses
        display = os.environ.get("DISPLAY")
        where = f"the display {display!r}" if display else "a display (DISPLAY is not set)"
        raise ScreenCaptureError(
            f"Cannot capture the screen: no connection to {where} ({error}). Screen capture needs "
            "a desktop session (X11, or XWayland on Wayland); use the camera or attach an image instead."
        ) from error


class ScreenSource(PollingFrameSource):
    """Frames of monitor ``monitor`` (mss numbering, 1 = first) or of ``region`` within it, RGB uint8."""

    kind = "screen"

    def __init__(
        self,
        monitor: int = 1,
        region: Region | None = None,
        *,
        fps: float = 1.0,
        max_side: int | None = None,
        sample_fps: float = 1.0,
        history_s: float = 30.0,
        on_event: EventCallback = ignore_event,
    ) -> None:
        super().__init__(sample_fps=sample_fps, history_s=history_s, on_event=on_event)
        if fps < 0 or (region is not None and (region[2] <= 0 or region[3] <= 0)):
            raise ScreenCaptureError(f"Invalid screen capture request (fps {fps}, region {region}).")
        self.monitor = monitor
        self.region = region
        self.fps = fps
        self.max_side = max_side
        self._sct: Any = None

    @property
    def name(self) -> str:
        where = f"monitor {self.monitor}"
        return where if self.region is None else f"{where} region {self.region}"

    @staticmethod
    def monitors() -> list[MonitorInfo]:
        """The monitors of the current display; raises :class:`ScreenCaptureError` without one."""
        with _open_mss() as sct:
            return [
                MonitorInfo(i, m["left"], m["top"], m["width"], m["height"])
                for i, m in enumerate(sct.monitors)
            ]

    def _area(self, sct: Any) -> dict[str, int]:
        if not 0 <= self.monitor < len(sct.monitors):
            raise ScreenCaptureError(
                f"There is no monitor {self.monitor} (this display has {len(sct.monitors) - 1}); "
                "choose another in Settings."
            )
        mon = sct.monitors[self.monitor]
        if self.region is None:
            return {k: mon[k] for k in ("left", "top", "width", "height")}
        left, top, width, height = self.region
        if left < 0 or top < 0 or left + width > mon["width"] or top + height > mon["height"]:
            raise ScreenCaptureError(
                f"The region {self.region} lies outside monitor {self.monitor} "
                f"({mon['width']}×{mon['height']}); select the region again."
            )
        return {"left": mon["left"] + left, "top": mon["top"] + top, "width": width, "height": height}

    def _grab_rgb(self, sct: Any) -> np.ndarray:
        shot = sct.grab(self._area(sct))
        bgra = np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)
        return fit_max_side(cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGB), self.max_side)

    def grab(self) -> TimedFrame:
        """Capture one frame now, on the calling thread; it also becomes the latest frame."""
        with _open_mss() as sct:
            frame = TimedFrame(self._grab_rgb(sct), time.monotonic())
        self.buffer.offer(frame)
        return frame

    def start(self) -> None:
        """Check the display now (raising :class:`ScreenCaptureError`), then grab at ``fps`` if > 0."""
        with _open_mss() as sct:
            self._area(sct)
        if self.fps > 0:
            super().start()

    def frames_between(self, t0: float, t1: float, max_frames: int = 8) -> list[TimedFrame]:
        """As for every source; on demand (``fps=0``) a frame grabbed now."""
        if self.fps == 0:
            return [self.grab()]
        return super().frames_between(t0, t1, max_frames)

    # --- worker thread ----------------------------------------------------------------------
    def _open(self) -> None:
        self._sct = _open_mss()
        try:
            self._area(self._sct)
        except ScreenCaptureError:
            self._close()
            raise

    def _read(self) -> np.ndarray | None:
        try:
            return self._grab_rgb(self._sct)
        except Exception:  # display closed, monitor unplugged: reported as lost, then retried
            return None

    def _close(self) -> None:
        if self._sct is not None:
            self._sct.close()
            self._sct = None

    def _period(self) -> float:
        return 1.0 / self.fps
