"""Damaged media never reach the model: NaN/Inf audio is refused by name; huge frames shrink as decoded."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ola_core.cli import main
from ola_core.errors import MediaError
from ola_core.model.tiny import TinyCheckpoint
from ola_core.processing import image as image_module
from ola_core.processing.audio import load_audio, process_audio
from ola_core.processing.video import FRAME_DECODE_MAX_SIDE, process_image_folder
from tests.cli.conftest import damaged_copy, tiny_args


@pytest.mark.parametrize("greedy", [[], ["--greedy"]], ids=["sampled", "greedy"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_ask_refuses_nan_audio_naming_the_file(
    tiny: TinyCheckpoint,
    spoken: Path,
    tmp_path: Path,
    value: float,
    greedy: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = damaged_copy(spoken, tmp_path, value)
    assert main(["ask", "what is this?", *tiny_args(tiny), "--audio", str(bad), *greedy]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "NaN or infinity" in err


def test_every_audio_entry_point_checks_for_nan(spoken: Path, tmp_path: Path) -> None:
    bad = damaged_copy(spoken, tmp_path, float("nan"))
    for load in (load_audio, process_audio):
        with pytest.raises(MediaError, match="NaN or infinity") as error:
            load(bad)
        assert str(bad) in str(error.value)
    with pytest.raises(MediaError, match="The audio array"):
        load_audio(np.array([0.0, np.inf], np.float32), 16_000)


@pytest.mark.slow
def test_chat_names_the_damaged_attachment(
    tiny: TinyCheckpoint,
    spoken: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = damaged_copy(spoken, tmp_path, float("nan"))
    monkeypatch.setattr("sys.stdin", io.StringIO(f"/attach {bad}\nwhat is this?\n"))
    assert main(["chat", *tiny_args(tiny), "--push-to-talk"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if str(bad) in line and line.startswith("[")]
    assert lines and "NaN or infinity" in lines[0] and not lines[0].startswith("[internal]"), err


def _jpeg(path: Path, size: tuple[int, int], value: int) -> Path:
    Image.new("RGB", size, (value, 255 - value, 128)).save(path, quality=90)
    return path


def test_large_frames_are_shrunk_as_they_are_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JPEG frames are decoded at a reduced scale (never at full size), then cut to FRAME_DECODE_MAX_SIDE."""
    for i in range(3):
        _jpeg(tmp_path / f"frame_{i}.jpg", (8000, 6000), 40 * i)
    decoded: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def spy(self: Image.Image):  # type: ignore[no-untyped-def]
        result = real_load(self)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(Image.Image, "load", spy)
    clip = process_image_folder(tmp_path)
    assert clip.video.frames.shape[0] == 3
    assert decoded and max(max(size) for size in decoded) < 8000  # never the full 48 megapixels
    assert min(max(size) for size in decoded) <= FRAME_DECODE_MAX_SIDE


def test_a_huge_image_is_decoded_once_without_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _jpeg(tmp_path / "huge.jpg", (9000, 7000), 90)
    copies: list[int] = []
    real_copy = Image.Image.copy

    def counted_copy(self: Image.Image) -> Image.Image:
        copies.append(1)
        return real_copy(self)

    monkeypatch.setattr(Image.Image, "copy", counted_copy)
    loaded = image_module.load_image(path)
    assert max(loaded.size) <= image_module.DECODE_MAX_SIDE and copies == []


def test_normal_size_images_decode_exactly_as_before(tmp_path: Path) -> None:
    """Below the bound nothing is shrunk: the official-equivalent pixels (tests/processing) stay."""
    path = tmp_path / "photo.png"
    rgb = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    assert np.array_equal(np.asarray(image_module.load_image(path)), rgb)
