"""The one media table: which file suffixes are images, audio and video, and what kind a file is.

Everything that judges a file by its name reads this table — the loaders of ``processing/``,
attachment checks, ``ola-assistant ask`` and the GUI's file dialog — so a suffix one of them
accepts is never refused by another. Only the standard library is imported at the top: the GUI
reads the table without loading PIL, FFmpeg or torch; :func:`media_kind` loads the decoders
only when it has to look inside a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from ola_core.errors import MediaError

MediaKind = Literal["image", "audio", "video"]

# Formats PIL reads.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ico", ".jfif", ".ppm", ".pgm"}
)
# Formats libsndfile or FFmpeg read.
AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff"}
)
# Containers FFmpeg reads.
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})
# The files a folder given as a video is made of (its frames, in name order).
FRAME_SUFFIXES = IMAGE_SUFFIXES

SUFFIXES: Mapping[MediaKind, frozenset[str]] = MappingProxyType(
    {"image": IMAGE_SUFFIXES, "audio": AUDIO_SUFFIXES, "video": VIDEO_SUFFIXES}
)


def suffix_kind(path: str | Path) -> MediaKind | None:
    """The kind the table gives the suffix of ``path`` (any case), None when it names none.

    Only the name is read, never the file: for sorting and checking files by what they claim to be.
    """
    suffix = Path(path).suffix.lower()
    return next((kind for kind, suffixes in SUFFIXES.items() if suffix in suffixes), None)


def media_kind(path: str | Path) -> MediaKind:
    """``"image"``, ``"audio"`` or ``"video"`` (a folder of images counts as a video).

    Known suffixes decide at once; anything else is probed (PIL, then FFmpeg's streams), so a
    file with a wrong or missing suffix still works. Unreadable files raise :class:`MediaError`.
    """
    import av
    from PIL import Image, UnidentifiedImageError

    from ola_core.processing.files import open_media, require_file

    path = Path(path)
    if path.is_dir():
        return "video"
    require_file(path, "File")
    known = suffix_kind(path)
    if known is not None:
        return known
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
