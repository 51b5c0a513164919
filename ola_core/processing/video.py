"""Video → uniformly sampled frames (and the soundtrack), the way Ola was trained to see clips.

Frames come from a video file (PyAV), a folder of images, or a sequence of RGB frames (the live
camera/screen path: arrays, PIL images or anything with an ``rgb`` array such as
``ola_core.capture.frames.TimedFrame``). At most ``max_frames`` (64, the official default) are
sampled uniformly; each is resized by the official video rule of infer.py (``VIDEO_RESIZE=0x64``,
``VIDEO_MAXRES=480``, ``VIDEO_MINRES=288``, ``PAD2STRIDE``): area above 480² → shrink, below 288²
→ enlarge, both with sides floored to multiples of 64; otherwise centre-pad with grey to 64.
Normalisation is the image one, so pixels are bit-identical to the official for the same frames.

Fixed here, on purpose, against inference/infer.py (docs/official-ola.md §3.2):

* clips shorter than ``max_frames`` are not padded with duplicated frames (the official
  ``linspace`` repeats frames), and the sampled frames are all kept (the official keeps a frame
  only if its *list position* equals a source frame number: 2 of 64 frames survive at 3000);
* every frame reaches the model as one ``VideoInput`` (the trained, list-wrapped path; the
  official passes a bare tensor and the model then uses frame 0 only);
* a frame side never becomes 0 for extreme aspect ratios (the official video rule has no floor);
* a video without sound is fine (the official crashes in moviepy).

The soundtrack is decoded with PyAV and resampled straight to 16 kHz (the official goes through
moviepy's 44.1 kHz 16-bit WAV first, so its samples differ slightly).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias

import numpy as np
import torch
from PIL import Image

from ola_core.errors import MediaError
from ola_core.processing.audio import AudioClip, decoded_to_clip, read_audio_track
from ola_core.processing.files import ffmpeg_reason, list_folder, open_media, require_file
from ola_core.processing.image import fit_to_area, load_image, resize_bicubic, to_pixels
from ola_core.processing.inputs import VideoInput
from ola_core.processing.media import FRAME_SUFFIXES

logger = logging.getLogger(__name__)

# The official infer.py settings (docs/official-ola.md §1.3).
VIDEO_STRIDE = 64  # VIDEO_RESIZE=0x64
VIDEO_MAX_SIDE = 480  # VIDEO_MAXRES: frames above 480² are shrunk
VIDEO_MIN_SIDE = 288  # VIDEO_MINRES: frames below 288² are enlarged
DEFAULT_MAX_FRAMES = 64
# Frame files larger than this (longest side) are shrunk while decoded: a frame ends up at most
# 480² in area, and 64 full-size 200-megapixel frames would not fit in memory. 4K frames and
# smaller decode exactly as the official inference decodes them.
FRAME_DECODE_MAX_SIDE = 3840


class HasRGB(Protocol):
    """A captured frame (e.g. ``TimedFrame``): an (H, W, 3) uint8 RGB array under ``rgb``."""

    @property
    def rgb(self) -> np.ndarray: ...


FrameLike: TypeAlias = np.ndarray | Image.Image | HasRGB


@dataclass(frozen=True)
class VideoClip:
    """A processed clip: the frames for the vision tower and, if the source had sound, its audio."""

    video: VideoInput
    audio: AudioClip | None  # None: no audio track (or an empty one), or not asked for
    frame_indices: tuple[int, ...]  # positions of the sampled frames in the source
    source_frames: int  # how many frames the source has


def sample_indices(n_frames: int, max_frames: int = DEFAULT_MAX_FRAMES) -> list[int]:
    """Uniformly spread, strictly increasing frame indices: all frames if there are few enough.

    For more than ``max_frames`` frames these are the official ``np.linspace(0, n-1, max_frames,
    dtype=int)`` indices (distinct, since their spacing is ≥ 1); for fewer, the official list
    would repeat frames, so we take each frame once.
    """
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    if n_frames <= max_frames:
        return list(range(n_frames))
    return [int(i) for i in np.linspace(0, n_frames - 1, max_frames, dtype=int)]


def resize_frame(frame: Image.Image) -> Image.Image:
    """The official video frame rule (module docstring), with sides of at least 64."""
    return fit_to_area(frame, stride=VIDEO_STRIDE, max_side=VIDEO_MAX_SIDE, min_side=VIDEO_MIN_SIDE)


def frames_to_video(frames: Sequence[Image.Image]) -> VideoInput:
    """RGB frames → ``VideoInput`` (T, 3, H, W).

    All frames must share one size for the model's batch; a frame whose size differs from the
    first (a camera switched resolution mid-turn) is first resized to the first frame's size.
    """
    if not frames:
        raise MediaError("The video has no frames.")
    size = frames[0].size

    def pixels(frame: Image.Image) -> torch.Tensor:  # (3, H, W)
        return to_pixels(resize_frame(frame if frame.size == size else resize_bicubic(frame, size)))

    # PIL's bicubic resize dominates (≈10 ms per 720p frame) and releases the GIL: use the cores.
    with ThreadPoolExecutor(max_workers=min(len(frames), os.cpu_count() or 1)) as pool:
        return VideoInput(frames=torch.stack(list(pool.map(pixels, frames))))


def _as_image(frame: FrameLike) -> Image.Image:
    if isinstance(frame, np.ndarray | Image.Image):
        return load_image(frame)
    return load_image(frame.rgb)


def process_frames(frames: Sequence[FrameLike], max_frames: int = DEFAULT_MAX_FRAMES) -> VideoClip:
    """Captured frames (oldest first) → a clip of at most ``max_frames`` uniformly sampled frames."""
    if not frames:
        raise MediaError("No frames were captured; check that the camera or screen source is running.")
    indices = sample_indices(len(frames), max_frames)
    video = frames_to_video([_as_image(frames[i]) for i in indices])
    return VideoClip(video=video, audio=None, frame_indices=tuple(indices), source_frames=len(frames))


def _natural_key(path: Path) -> list[int | str]:
    """Sort key so that frame_2.png comes before frame_10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def process_image_folder(folder: str | Path, max_frames: int = DEFAULT_MAX_FRAMES) -> VideoClip:
    """A folder of frame images (in natural name order) → a clip; only the sampled files are decoded."""
    folder = Path(folder)
    files = sorted((p for p in list_folder(folder) if p.suffix.lower() in FRAME_SUFFIXES), key=_natural_key)
    if not files:
        raise MediaError(f"Folder '{folder}' contains no image files to use as video frames.")
    indices = sample_indices(len(files), max_frames)
    video = frames_to_video([load_image(files[i], FRAME_DECODE_MAX_SIDE) for i in indices])
    return VideoClip(video=video, audio=None, frame_indices=tuple(indices), source_frames=len(files))


def _count_frames(path: Path) -> int:
    """Frames of the first video stream: the header's count, else the number of video packets."""
    with open_media(path) as container:
        stream = container.streams.video[0]
        if stream.frames > 0:
            return int(stream.frames)
        return sum(1 for packet in container.demux(stream) if packet.size)


def _decode_frames(path: Path, indices: Sequence[int]) -> list[Image.Image]:
    """Decode the video once, converting only the wanted frames to RGB."""
    wanted = set(indices)
    last = max(indices)
    frames: list[Image.Image] = []
    with open_media(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for position, frame in enumerate(container.decode(stream)):
            if position in wanted:
                frames.append(frame.to_image())
            if position >= last:
                break
    return frames


def process_video_file(
    path: str | Path, max_frames: int = DEFAULT_MAX_FRAMES, *, with_audio: bool = True
) -> VideoClip:
    """A video file → sampled frames and (``with_audio``) its soundtrack as speech input."""
    import av  # here, not at the top: the engine runs without PyAV (a bare GPU machine)

    path = require_file(path, "Video")
    try:
        with open_media(path) as container:
            has_video = bool(container.streams.video)
        if not has_video:
            raise MediaError(f"'{path}' has no video stream. Attach it as audio instead.")
        n_frames = _count_frames(path)
        indices = sample_indices(n_frames, max_frames) if n_frames else []
        frames = _decode_frames(path, indices) if indices else []
        track = read_audio_track(path) if with_audio else None
    except av.FFmpegError as error:
        raise MediaError(
            f"Cannot read video '{path}': not a video format we can decode, or the file is corrupt "
            f"({ffmpeg_reason(error)})."
        ) from None
    if not frames:
        raise MediaError(f"Video '{path}' contains no frames.")
    if len(frames) < len(indices):
        # The header promised more frames than the stream holds; keep what decoded.
        logger.info("Video %s: %d of %d sampled frames decoded", path, len(frames), len(indices))
        indices = indices[: len(frames)]
    audio = None
    if track is not None and track.samples.shape[1] > 0:
        audio = decoded_to_clip(track, f"The soundtrack of '{path}'")
    return VideoClip(
        video=frames_to_video(frames), audio=audio, frame_indices=tuple(indices), source_frames=n_frames
    )


def process_video(
    source: str | Path | Sequence[FrameLike], max_frames: int = DEFAULT_MAX_FRAMES, *, with_audio: bool = True
) -> VideoClip:
    """A video file, a folder of frame images, or captured frames → a :class:`VideoClip`."""
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            return process_image_folder(path, max_frames)
        return process_video_file(path, max_frames, with_audio=with_audio)
    return process_frames(source, max_frames)
