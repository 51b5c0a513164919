"""Opening the visual sources the assistant can look at: camera, screen, or files standing in for a camera."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ola_core.capture.events import EventCallback, ignore_event
from ola_core.capture.frames import FrameSource, PollingFrameSource
from ola_core.errors import CameraError, MediaError
from ola_core.processing.media import FRAME_SUFFIXES
from ola_core.settings import VisionSettings


def open_source(
    kind: str,
    index: int,
    region: tuple[int, int, int, int] | None,
    vision: VisionSettings,
    *,
    on_event: EventCallback = ignore_event,
) -> FrameSource:
    """An (unstarted) camera or screen source for the user's choice."""
    if kind == "camera":
        from ola_core.capture.camera import CameraSource

        return CameraSource(index, max_side=vision.max_side, mirror=False, on_event=on_event)
    if kind == "screen":
        from ola_core.capture.screen import ScreenSource

        return ScreenSource(monitor=index, region=region, max_side=vision.max_side, on_event=on_event)
    raise ValueError(f"unknown source kind {kind!r}")


def file_source(
    path: Path, *, max_side: int | None = None, on_event: EventCallback = ignore_event
) -> FrameSource:
    """A video file, or a folder of images, delivered as a live camera would (looping, paced)."""
    if path.is_dir():
        return FolderFrameSource(path, max_side=max_side, on_event=on_event)
    from ola_core.capture.camera import CameraSource

    return CameraSource(path, max_side=max_side, on_event=on_event)


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class FolderFrameSource(PollingFrameSource):
    """The images of a folder, in natural name order, shown one after another at ``fps`` (looping)."""

    kind = "camera"

    def __init__(
        self,
        folder: Path,
        *,
        fps: float = 2.0,
        max_side: int | None = None,
        on_event: EventCallback = ignore_event,
    ) -> None:
        super().__init__(sample_fps=fps, on_event=on_event)
        self.folder = folder
        self.fps = fps
        self.max_side = max_side
        from ola_core.processing.files import list_folder

        self._files = sorted(
            (p for p in list_folder(folder) if p.suffix.lower() in FRAME_SUFFIXES), key=_natural_key
        )
        if not self._files:
            raise MediaError(f"The folder {folder} holds no images ({', '.join(sorted(FRAME_SUFFIXES))}).")
        self._next = 0

    @property
    def name(self) -> str:
        return str(self.folder)

    def _open(self) -> None:
        if not self.folder.is_dir():
            raise CameraError(f"The frames folder {self.folder} is gone.")

    def _read(self) -> np.ndarray | None:
        from ola_core.capture.camera import fit_max_side
        from ola_core.processing.image import load_image
        from ola_core.processing.video import FRAME_DECODE_MAX_SIDE

        path = self._files[self._next % len(self._files)]
        self._next += 1
        try:  # shrunk while decoded: a folder of huge images must not cost a full decode per frame
            rgb = np.asarray(load_image(path, FRAME_DECODE_MAX_SIDE), dtype=np.uint8)
        except MediaError:
            return None
        return fit_max_side(np.ascontiguousarray(rgb), self.max_side)

    def _close(self) -> None:
        pass

    def _period(self) -> float:
        return 1.0 / self.fps
