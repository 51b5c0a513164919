"""Video: official frame pixels, bug-free uniform sampling, files/folders/live frames, soundtrack, bad files."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ola_core.errors import MediaError
from ola_core.processing.prompt import media_token_count
from ola_core.processing.video import (
    process_frames,
    process_video,
    resize_frame,
    sample_indices,
)
from tests.processing import media_gen
from tests.processing.conftest import load_fixture

PIXELS = load_fixture("pixels.json")


@dataclass(frozen=True)
class Frame:
    """Stands in for ola_core.capture.frames.TimedFrame (anything with an ``rgb`` array)."""

    rgb: np.ndarray
    t: float


def write_video(
    path: Path, frames: list[np.ndarray], fps: int = 10, audio: np.ndarray | None = None, rate: int = 16000
) -> Path:
    """An H.264 video (and AAC soundtrack) like a user's clip; frames (H, W, 3) uint8.

    Lossless (crf 0), so that frame brightness survives as an index; B-frames stay on, so frames
    decode out of storage order like in real files.
    """
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"crf": "0"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=rate, layout="mono") if audio is not None else None
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None and audio is not None:
            chunk = av.AudioFrame.from_ndarray(audio[None, :], format="fltp", layout="mono")
            chunk.sample_rate = rate
            container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def numbered_frames(n: int, width: int = 96, height: int = 64) -> list[np.ndarray]:
    """Frames that show their index (< 100): left half 30 + 20·tens, right half 30 + 20·units.

    Steps of 20 grey levels survive the YUV round trip of a video file.
    """
    frames = []
    for i in range(n):
        rgb = np.empty((height, width, 3), dtype=np.uint8)
        rgb[:, : width // 2] = 30 + 20 * (i // 10)
        rgb[:, width // 2 :] = 30 + 20 * (i % 10)
        frames.append(rgb)
    return frames


def frame_numbers(pixels: np.ndarray) -> list[int]:
    """Read the indices back from (T, 3, H, W) normalised pixels of numbered frames."""
    values = (pixels * 0.5 + 0.5) * 255
    row = pixels.shape[2] // 2
    tens = values[:, :, row, pixels.shape[3] // 4].mean(axis=1)
    units = values[:, :, row, 3 * pixels.shape[3] // 4].mean(axis=1)
    return [10 * round((t - 30) / 20) + round((u - 30) / 20) for t, u in zip(tens, units, strict=True)]


@pytest.mark.parametrize("name", sorted(media_gen.FRAME_CASES))
def test_frame_pixels_equal_official_bit_for_bit(name: str) -> None:
    references = PIXELS["frames"][name]
    frames = media_gen.make_frames(name)
    clip = process_frames(frames)
    assert clip.video.frames.shape[0] == len(references)
    for pixels, rgb, reference in zip(clip.video.frames, frames, references, strict=True):
        assert media_gen.sha256(rgb) == reference["input_sha256"], "test frame generator changed"
        assert list(pixels.shape) == reference["shape"]
        assert media_gen.sha256(pixels.numpy()) == reference["sha256"]


def test_spec_example_1080p_gives_211_tokens_per_frame() -> None:
    clip = process_frames([np.zeros((1080, 1920, 3), dtype=np.uint8)] * 2)
    assert clip.video.frames.shape == (2, 3, 320, 640)
    assert media_token_count(clip.video) == 2 + 2 * 211


def test_extreme_aspect_ratio_never_gives_a_zero_side() -> None:
    """3000×20 is enlarged to 288² area: the official floors the height to 0; we keep ≥ 64."""
    resized = resize_frame(Image.new("RGB", (3000, 20)))
    assert resized.size == (3520, 64)


@given(n=st.integers(0, 5000), max_frames=st.integers(1, 128))
def test_sampling_is_uniform_distinct_and_official_when_long(n: int, max_frames: int) -> None:
    indices = sample_indices(n, max_frames)
    assert len(indices) == min(n, max_frames)
    assert indices == sorted(set(indices))  # strictly increasing: no duplicated frames
    if n > max_frames:
        assert indices[0] == 0 and (max_frames == 1 or indices[-1] == n - 1)
        assert indices == np.linspace(0, n - 1, max_frames, dtype=int).tolist()
    else:
        assert indices == list(range(n))


def test_live_frames_are_sampled_and_all_reach_the_clip() -> None:
    captured = [Frame(rgb, t=i / 10) for i, rgb in enumerate(numbered_frames(100))]
    clip = process_frames(captured, max_frames=8)
    assert clip.frame_indices == tuple(np.linspace(0, 99, 8, dtype=int).tolist())
    assert clip.video.frames.shape == (8, 3, 192, 320)  # 96×64 enlarged to ≈288² area, floored to ×64
    assert frame_numbers(clip.video.frames.numpy()) == list(clip.frame_indices)
    assert clip.audio is None


def test_capture_timed_frames_with_read_only_pixels() -> None:
    from ola_core.media_types import TimedFrame

    frames = []
    for i, rgb in enumerate(numbered_frames(5)):
        rgb.setflags(write=False)  # capture shares frames between readers read-only
        frames.append(TimedFrame(rgb=rgb, t=float(i)))
    clip = process_frames(frames, max_frames=3)
    assert frame_numbers(clip.video.frames.numpy()) == [0, 2, 4]


def test_frames_of_different_sizes_are_brought_to_the_first_size() -> None:
    frames = [np.zeros((360, 640, 3), np.uint8), np.zeros((480, 640, 3), np.uint8)]
    assert process_frames(frames).video.frames.shape == (2, 3, 384, 640)


def test_video_file_with_soundtrack(tmp_path: Path) -> None:
    sound = media_gen.audio_samples(3.0, 16000, 1, seed=9)[:, 0]
    path = write_video(tmp_path / "clip.mp4", numbered_frames(30), fps=10, audio=sound)
    clip = process_video(path, max_frames=64)
    assert clip.source_frames == 30
    assert clip.frame_indices == tuple(range(30))  # short clip: every frame once, no repeats
    assert frame_numbers(clip.video.frames.numpy()) == list(range(30))
    assert clip.audio is not None
    assert clip.audio.duration_s == pytest.approx(3.0, abs=0.1)
    assert clip.audio.speech.mels.shape == (1, 3000, 128)


def test_long_video_is_sampled_uniformly_and_silent_video_has_no_speech(tmp_path: Path) -> None:
    path = write_video(tmp_path / "silent.mp4", numbered_frames(100, width=64, height=64), fps=25)
    clip = process_video(path, max_frames=16)
    expected = np.linspace(0, 99, 16, dtype=int).tolist()
    assert list(clip.frame_indices) == expected
    assert frame_numbers(clip.video.frames.numpy()) == expected
    assert clip.audio is None
    assert process_video(path, max_frames=4, with_audio=False).video.frames.shape[0] == 4


def test_folder_of_images_in_natural_order(tmp_path: Path) -> None:
    for i, rgb in enumerate(numbered_frames(12)):
        Image.fromarray(rgb).save(tmp_path / f"frame_{i}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    clip = process_video(tmp_path, max_frames=64)
    assert clip.source_frames == 12
    assert frame_numbers(clip.video.frames.numpy()) == list(range(12))  # frame_10 after frame_9


def test_text_file_renamed_mp4_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "holiday.mp4"
    fake.write_text("definitely not a video\n" * 50)
    with pytest.raises(MediaError, match=r"holiday\.mp4.*not a video format we can decode"):
        process_video(fake)


def test_zero_length_video_is_rejected(tmp_path: Path) -> None:
    """A valid file whose video track holds no frame (only sound was muxed), and a 0-byte file."""
    path = tmp_path / "empty.mkv"  # Matroska keeps an empty track (MP4 drops it)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        sound = container.add_stream("aac", rate=16000, layout="mono")
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 4096), np.float32), format="fltp", layout="mono")
        chunk.sample_rate = 16000
        container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    with pytest.raises(MediaError, match=r"empty\.mkv.*contains no frames"):
        process_video(path)
    zero_bytes = tmp_path / "zero.mp4"
    zero_bytes.write_bytes(b"")
    with pytest.raises(MediaError, match=r"zero\.mp4.*empty \(0 bytes\)"):
        process_video(zero_bytes)


def test_empty_inputs_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="No frames were captured"):
        process_frames([])
    with pytest.raises(MediaError, match="contains no image files"):
        process_video(tmp_path)
    with pytest.raises(MediaError, match=r"missing\.mp4.*does not exist"):
        process_video(tmp_path / "missing.mp4")
