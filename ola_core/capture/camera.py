"""A webcam, or a video file standing in for one, as a :class:`~ola_core.capture.frames.FrameSource`.

OpenCV reads on the source's own thread. A device index opens a camera (resolution and frame
rate are requests: drivers pick the nearest mode they have). A path opens a video file that
loops and is paced at its own frame rate, so tests, demos and benchmarks replay real footage
through exactly the code a camera goes through.

A camera that is missing, busy (open in another application) or unplugged is reported with a
:class:`~ola_core.capture.events.DeviceLost` event at once and retried every second; frames
resume with :class:`~ola_core.capture.events.DeviceRestored`. Those retries must not fill the
log: on Linux a camera without a /dev/videoN node is not handed to OpenCV at all, and OpenCV's
own warnings ("can't open camera by index") are silenced unless OPENCV_LOG_LEVEL asks for them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from ola_core.capture.events import EventCallback, ignore_event
from ola_core.capture.frames import PollingFrameSource
from ola_core.errors import CameraError

DEFAULT_FILE_FPS = 30.0  # for files whose container does not say

if "OPENCV_LOG_LEVEL" not in os.environ:  # a missing camera is our event, not a cv2 warning
    # Set here, not through the variable: OpenCV may have been imported (and read it) already.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def fit_max_side(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """``rgb`` shrunk (aspect kept, area filter) so its longest side is at most ``max_side``."""
    h, w = rgb.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return rgb
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


class CameraSource(PollingFrameSource):
    """Frames from camera ``device`` (an index) or a video file (a path), RGB uint8.

    ``width``/``height``/``fps`` are requests to the camera (ignored for files); ``mirror``
    flips left-right (what people expect of a selfie preview); ``max_side`` shrinks frames as
    they arrive so the history stays small (30 s at 2 fps of 1080p would be 370 MB).
    """

    kind = "camera"

    def __init__(
        self,
        device: int | str | Path = 0,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        mirror: bool = False,
        max_side: int | None = None,
        sample_fps: float = 2.0,
        history_s: float = 30.0,
        on_event: EventCallback = ignore_event,
    ) -> None:
        super().__init__(sample_fps=sample_fps, history_s=history_s, on_event=on_event)
        self.device: int | Path = device if isinstance(device, int) else Path(device)
        self.request = (width, height, fps)
        self.mirror = mirror
        self.max_side = max_side
        self._cap: cv2.VideoCapture | None = None
        self._file_period = 0.0

    @property
    def name(self) -> str:
        return f"camera {self.device}" if isinstance(self.device, int) else self.device.name

    @property
    def is_file(self) -> bool:
        return isinstance(self.device, Path)

    def _open(self) -> None:
        if isinstance(self.device, Path):
            if not self.device.is_file():
                raise CameraError(f"The video file {self.device} does not exist; choose another file.")
            cap = cv2.VideoCapture(str(self.device))
        else:
            node = Path(f"/dev/video{self.device}")
            if sys.platform.startswith("linux") and not node.exists():
                raise CameraError(
                    f"No camera found at index {self.device} ({node} does not exist). Connect one, or "
                    "choose another camera in Settings; retrying every second."
                )
            cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            if isinstance(self.device, Path):
                raise CameraError(f"OpenCV cannot decode the video file {self.device}; convert it to MP4.")
            raise CameraError(
                f"No camera answers at index {self.device}. Check that it is connected and not in use "
                "by another application, or choose another camera in Settings; retrying every second."
            )
        if isinstance(self.device, Path):
            file_fps = cap.get(cv2.CAP_PROP_FPS)
            self._file_period = 1.0 / (file_fps if 1.0 <= file_fps <= 240.0 else DEFAULT_FILE_FPS)
        else:
            width, height, fps = self.request
            if width and height:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap = cap

    def _read(self) -> np.ndarray | None:
        assert self._cap is not None
        ok, bgr = self._cap.read()
        if not ok and self.is_file:  # end of the file: loop
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._cap.read()
        if not ok or bgr is None or bgr.ndim != 3:
            return None
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # (H, W, 3) uint8
        if self.mirror:
            rgb = cv2.flip(rgb, 1)
        return fit_max_side(rgb, self.max_side)

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _period(self) -> float:
        return self._file_period if self.is_file else 0.0  # a camera's read() waits for the next frame
