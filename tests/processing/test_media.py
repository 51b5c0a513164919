"""Telling images, audio and video apart, also when the suffix is wrong or missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from ola_core.errors import MediaError
from ola_core.processing.media import media_kind
from tests.processing.test_video import numbered_frames, write_video


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
