"""The one media table, and telling images, audio and video apart (also when the suffix is wrong).

Table-driven: every suffix of ``ola_core.processing.media`` is written as a real file of that
format, and the processing function of its kind, attachment checking and the classifiers all
accept it; a file under a suffix outside the table is refused by attachment checking. A writer
exists for every suffix and for no other, so the table cannot grow or shrink unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from PIL import Image

from ola_core.assistant.answer import check_attachment
from ola_core.errors import MediaError
from ola_core.processing.audio import process_audio
from ola_core.processing.image import process_image
from ola_core.processing.media import (
    AUDIO_SUFFIXES,
    FRAME_SUFFIXES,
    IMAGE_SUFFIXES,
    SUFFIXES,
    VIDEO_SUFFIXES,
    MediaKind,
    media_kind,
    suffix_kind,
)
from ola_core.processing.video import process_video
from tests.processing.test_video import numbered_frames, write_video

RATE = 16_000


def _write_image(path: Path) -> None:
    Image.new("RGB", (40, 30), (200, 60, 20)).save(path)  # PIL picks the format from the suffix


def _tone(rate: int) -> np.ndarray:
    t = np.arange(rate // 4) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _soundfile_writer(format: str, subtype: str, rate: int = RATE) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        soundfile.write(path, _tone(rate), rate, format=format, subtype=subtype)

    return write


def _pyav_audio_writer(container_format: str, codec: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        samples = _tone(RATE)
        with av.open(str(path), "w", format=container_format) as container:
            stream = container.add_stream(codec, rate=RATE, layout="mono")
            stream.bit_rate = 64_000  # wmav2 has no default
            for start in range(0, len(samples), 1024):  # PyAV cuts frames to the codec's size
                chunk = samples[None, start : start + 1024]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = RATE, start
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))

    return write


def _pyav_video_writer(codec: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with av.open(str(path), "w") as container:  # FFmpeg picks the container from the suffix
            stream = container.add_stream(codec, rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for i, rgb in enumerate(numbered_frames(3, 64, 48)):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, 25)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))

    return write


WRITERS: dict[str, Callable[[Path], None]] = {
    **{suffix: _write_image for suffix in (".png", ".jpg", ".jpeg", ".jfif", ".webp", ".bmp", ".gif")},
    **{suffix: _write_image for suffix in (".tif", ".tiff", ".ico", ".ppm", ".pgm")},
    ".wav": _soundfile_writer("WAV", "PCM_16"),
    ".flac": _soundfile_writer("FLAC", "PCM_16"),
    ".aiff": _soundfile_writer("AIFF", "PCM_16"),
    ".mp3": _soundfile_writer("MP3", "MPEG_LAYER_III"),
    ".ogg": _soundfile_writer("OGG", "VORBIS"),
    ".oga": _soundfile_writer("OGG", "VORBIS"),
    ".opus": _soundfile_writer("OGG", "OPUS", rate=48_000),
    ".m4a": _pyav_audio_writer("ipod", "aac"),
    ".aac": _pyav_audio_writer("adts", "aac"),
    ".wma": _pyav_audio_writer("asf", "wmav2"),
    **{suffix: _pyav_video_writer("mpeg4") for suffix in (".mp4", ".m4v", ".mov", ".mkv", ".avi")},
    ".webm": _pyav_video_writer("libvpx"),
    ".mpg": _pyav_video_writer("mpeg1video"),
    ".mpeg": _pyav_video_writer("mpeg1video"),
    ".wmv": _pyav_video_writer("wmv2"),
    ".flv": _pyav_video_writer("flv"),
}

PROCESS: dict[MediaKind, Callable[[Path], object]] = {
    "image": process_image,
    "audio": process_audio,
    "video": process_video,
}

TABLE = sorted((kind, suffix) for kind, suffixes in SUFFIXES.items() for suffix in suffixes)


def test_the_table_is_one_table() -> None:
    """Kinds never share a suffix, suffixes are lower case with the dot, and a writer covers each."""
    assert dict(SUFFIXES) == {"image": IMAGE_SUFFIXES, "audio": AUDIO_SUFFIXES, "video": VIDEO_SUFFIXES}
    assert not (
        IMAGE_SUFFIXES & AUDIO_SUFFIXES or IMAGE_SUFFIXES & VIDEO_SUFFIXES or AUDIO_SUFFIXES & VIDEO_SUFFIXES
    )
    assert all(s.startswith(".") and s == s.lower() for _, s in TABLE)
    assert set(WRITERS) == {s for _, s in TABLE}  # a format we can produce is in the table, and back


@pytest.mark.parametrize(("kind", "suffix"), TABLE)
def test_every_suffix_is_accepted_everywhere(kind: MediaKind, suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"sample{suffix}"
    WRITERS[suffix](path)
    assert suffix_kind(path) == kind
    assert suffix_kind(path.with_suffix(suffix.upper())) == kind
    assert media_kind(path) == kind
    PROCESS[kind](path)  # raises MediaError if the loader of its kind cannot read it
    check_attachment(path)  # the same files can be attached (a .tiff once was refused)


@pytest.mark.parametrize("suffix", [".txt", ".pdf", ".svg", ".heic", ".xyz", ""])
def test_suffixes_outside_the_table_are_refused_as_attachments(suffix: str, tmp_path: Path) -> None:
    """Attachments are sorted by suffix, so even a readable picture under another name is refused."""
    path = tmp_path / f"picture{suffix}"
    Image.new("RGB", (8, 8)).save(path, format="PNG")
    assert suffix_kind(path) is None
    with pytest.raises(MediaError, match="unsupported file type"):
        check_attachment(path)


def test_a_frames_folder_takes_every_image_suffix(tmp_path: Path) -> None:
    assert FRAME_SUFFIXES == IMAGE_SUFFIXES
    for i, suffix in enumerate(sorted(IMAGE_SUFFIXES)):
        _write_image(tmp_path / f"frame{i:02d}{suffix}")
    (tmp_path / "notes.txt").write_text("not a frame")
    assert process_video(tmp_path).source_frames == len(IMAGE_SUFFIXES)


def test_known_suffixes_and_folders(tmp_path: Path) -> None:
    picture = tmp_path / "a.PNG"
    Image.new("RGB", (4, 4)).save(picture, format="PNG")
    sound = tmp_path / "b.flac"
    soundfile.write(sound, np.zeros(1600, np.float32), 16000)
    clip = write_video(tmp_path / "c.mp4", numbered_frames(3))
    assert [media_kind(p) for p in (picture, sound, clip, tmp_path)] == ["image", "audio", "video", "video"]


def test_content_decides_when_the_suffix_does_not(tmp_path: Path) -> None:
    picture = tmp_path / "screenshot.dat"
    Image.new("RGB", (4, 4)).save(picture, format="PNG")
    sound = tmp_path / "memo"
    soundfile.write(sound, np.zeros(1600, np.float32), 16000, format="WAV")
    clip = tmp_path / "recording.bin"
    write_video(tmp_path / "tmp.mp4", numbered_frames(3)).rename(clip)
    assert [media_kind(p) for p in (picture, sound, clip)] == ["image", "audio", "video"]


def test_unknown_and_missing_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.xyz"
    text.write_text("plain text")
    with pytest.raises(MediaError, match=r"notes\.xyz.*not an image, audio or video file"):
        media_kind(text)
    with pytest.raises(MediaError, match=r"absent\.png.*does not exist"):
        media_kind(tmp_path / "absent.png")


def test_the_table_loads_no_decoder() -> None:
    """The GUI's file dialog reads the table: importing it must not load PIL, FFmpeg or torch."""
    import subprocess
    import sys

    code = (
        "import sys, ola_core.processing.media\n"
        "bad = [m for m in ('PIL', 'av', 'torch', 'soundfile') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
