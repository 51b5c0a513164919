"""Small pictures of an attachment for the transcript and "Frames used": the image, or the video's
sampled frames (the frames the model is given: :func:`~ola_core.processing.video.sample_indices`).

Made when the file is attached (the assistant decodes it then anyway, to refuse a bad file at
once), so the turn itself pays nothing for them. Audio files have none.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ola_core.media_types import TimedFrame
from ola_core.processing.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

PREVIEW_SIDE = 320  # longest side of a preview: enough for a thumbnail and the export


def attachment_previews(path: Path) -> tuple[TimedFrame, ...]:
    """Previews of an attachment that :func:`~ola_core.assistant.answer.check_attachment` accepted."""
    from PIL import Image

    try:
        pictures = _pictures(path)
    except Exception as error:  # the file was accepted: a preview that fails only goes unseen
        log.warning("no preview of %s: %r", path.name, error)
        return ()
    now = time.monotonic()
    previews = []
    for picture in pictures:
        small = picture.convert("RGB")
        small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
        previews.append(TimedFrame(np.ascontiguousarray(np.asarray(small, dtype=np.uint8)), now))
    return tuple(previews)


def _pictures(path: Path) -> list[Image.Image]:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        from ola_core.processing.image import load_image

        return [load_image(path)]
    if suffix in VIDEO_SUFFIXES:
        from ola_core.processing.video import (
            DEFAULT_MAX_FRAMES,
            _count_frames,
            _decode_frames,
            sample_indices,
        )

        n_frames = _count_frames(path)
        return _decode_frames(path, sample_indices(n_frames, DEFAULT_MAX_FRAMES)) if n_frames else []
    return []  # audio
