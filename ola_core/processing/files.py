"""Checks and wording shared by the media loaders, so every bad file is reported the same way."""

from __future__ import annotations

from pathlib import Path

import av

from ola_core.errors import MediaError


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path if it is a non-empty file; otherwise a :class:`MediaError` naming it.

    ``what`` starts the message ("Image", "Audio file", "Video").
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{what} '{path}' does not exist or is not a file. Check the path.")
    if path.stat().st_size == 0:
        raise MediaError(f"{what} '{path}' is empty (0 bytes). Choose another file.")
    return path


def ffmpeg_reason(error: av.FFmpegError) -> str:
    """FFmpeg's own words for a failure, without the errno and path PyAV adds around them."""
    return str(error.strerror or error)
