"""Which kind of media a file is, for callers that get files without being told (attachments)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import av
from PIL import Image, UnidentifiedImageError

from ola_core.errors import MediaError
from ola_core.processing.audio import AUDIO_SUFFIXES
from ola_core.processing.files import open_media, require_file
from ola_core.processing.image import IMAGE_SUFFIXES
from ola_core.processing.video import VIDEO_SUFFIXES

MediaKind = Literal["image", "audio", "video"]


def media_kind(path: str | Path) -> MediaKind:
    """``"image"``, ``"audio"`` or ``"video"`` (a folder of images counts as a video).

    Known suffixes decide at once; anything else is probed (PIL, then FFmpeg's streams), so a
    file with a wrong or missing suffix still works. Unreadable files raise :class:`MediaError`.
    """
    path = Path(path)
    if path.is_dir():
        return "video"
    require_file(path, "File")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    try:
        with Image.open(path):
            return "image"
    except (UnidentifiedImageError, OSError):
        pass
    try:
        with open_media(path) as container:
            if container.streams.video:
                return "video"
            if container.streams.audio:
                return "audio"
    except av.FFmpegError:
        pass
    raise MediaError(
        f"Cannot use '{path}': it is not an image, audio or video file we can read. "
        "Use e.g. PNG/JPEG images, WAV/MP3/M4A audio or MP4/MKV/WebM video."
    )
