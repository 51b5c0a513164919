"""Is someone standing in front of the booth's camera? A detector that ships inside OpenCV.

No model is downloaded: OpenCV 4.x wheels (the version pyproject.toml asks for) ship Haar cascades
(``cv2.data.haarcascades``), and the frontal-face cascade finds a visitor looking at the screen.
OpenCV 5 wheels ship none (and no HOG people detector), so there the detector falls back to
presence by motion: a background model
(``BackgroundSubtractorMOG2``, built into OpenCV) and a share of the picture in the foreground.
:attr:`PersonDetector.method` says which one runs (the health file shows it).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FACE_CASCADE = "haarcascade_frontalface_default.xml"
DETECT_SIDE = 320  # frames are shrunk to this width first: enough for a face at 2 m, cheap on a CPU
MOTION_SHARE = 0.04  # this share of the picture moving counts as someone there
WARM_UP_FRAMES = 5  # the background model sees everything as foreground until it has learnt a few


def bundled_cascade() -> Path | None:
    """The frontal-face cascade inside the installed OpenCV, or None when the wheel ships none."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = Path(folder) / FACE_CASCADE if folder else None
    return path if path is not None and path.is_file() else None


class PersonDetector:
    """``seen(frame)`` → True when a person is in view (RGB or BGR uint8 frames, any size)."""

    def __init__(self, force_motion: bool = False) -> None:
        cascade = None if force_motion else bundled_cascade()
        self._cascade = cv2.CascadeClassifier(str(cascade)) if cascade is not None else None  # type: ignore[attr-defined, unused-ignore]  # absent from OpenCV 5
        self.method = "face cascade" if self._cascade is not None else "motion"
        self._background = cv2.createBackgroundSubtractorMOG2(history=300, detectShadows=False)
        self._frames = 0

    def seen(self, frame: np.ndarray) -> bool:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        if gray.shape[1] > DETECT_SIDE:
            scale = DETECT_SIDE / gray.shape[1]
            gray = cv2.resize(gray, (DETECT_SIDE, max(1, round(gray.shape[0] * scale))))
        if self._cascade is not None:
            faces = self._cascade.detectMultiScale(gray, scaleFactor=1.2, minNeighbors=4, minSize=(24, 24))
            return len(faces) > 0
        mask = self._background.apply(gray)
        self._frames += 1
        return self._frames > WARM_UP_FRAMES and float(np.count_nonzero(mask)) / mask.size >= MOTION_SHARE
