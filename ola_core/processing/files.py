"""Checks and wording shared by the media loaders, so every bad file is reported the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def list_folder(folder: Path) -> list[Path]:
    """The files in ``folder``; a :class:`MediaError` naming it when it cannot be listed."""
    try:
        return [p for p in folder.iterdir() if p.is_file()]
    except PermissionError:
        raise MediaError(
            f"Cannot read the folder '{folder}': permission denied. Check its permissions."
        ) from None
    except OSError as error:
        raise MediaError(f"Cannot read the folder '{folder}' ({error.strerror or error}).") from None


def ffmpeg_reason(error: av.FFmpegError) -> str:
    """FFmpeg's own words for a failure, without the errno and path PyAV adds around them."""
    return str(error.strerror or error)


@contextmanager
def open_media(path: str | Path) -> Iterator[Any]:
    """``av.open`` for reading, also for file names that are not valid UTF-8.

    FFmpeg takes the name as UTF-8 text; a name with other bytes (an old Latin-1 file) is
    handed over as an open Python file instead.
    """
    import av  # here, not at the top: the model and engine run without PyAV (a bare GPU machine)

    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        with open(path, "rb") as raw, av.open(raw) as container:
            yield container
        return
    with av.open(name) as container:
        yield container
