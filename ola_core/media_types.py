"""Value types shared by every layer: a captured frame and the way a turn picks its frames.

Capture makes :class:`TimedFrame` objects, the engine reads them, events carry them to the GUI.
They live here, below all three, so that the engine and the events need nothing from
``ola_core.capture`` (which opens devices) to name a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class TimedFrame:
    """One RGB frame and the monotonic time it was captured; ``rgb`` is read-only (shared by readers).

    Frames compare by identity (comparing pixel arrays element-wise has no single truth value).
    """

    rgb: np.ndarray  # (H, W, 3) uint8
    t: float  # time.monotonic()

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise ValueError(f"TimedFrame wants (H, W, 3) uint8, got {self.rgb.shape} {self.rgb.dtype}")
        self.rgb.setflags(write=False)


def spread(frames: list[TimedFrame], max_frames: int) -> list[TimedFrame]:
    """At most ``max_frames`` of ``frames``, uniformly spread, first and last always kept."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    if len(frames) <= max_frames:
        return list(frames)
    if max_frames == 1:
        return [frames[-1]]
    picks = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
    return [frames[i] for i in picks]
