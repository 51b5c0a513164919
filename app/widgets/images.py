"""numpy RGB frames → QImage / QPixmap (built on the GUI thread, as the architecture asks)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of ``rgb`` (H, W, 3) uint8 (the frame array may be reused)."""
    frame = np.ascontiguousarray(rgb)
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def thumbnail(image: QImage, size: QSize) -> QPixmap:
    return QPixmap.fromImage(
        image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    )
