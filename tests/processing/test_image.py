"""Image views: bit-exact against the official preprocessing, and robust decoding of user files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ola_core.errors import MediaError
from ola_core.processing.image import load_image, process_image
from ola_core.processing.prompt import media_token_count
from tests.processing import media_gen
from tests.processing.conftest import load_fixture

PIXELS = load_fixture("pixels.json")


@pytest.mark.parametrize("name", sorted(media_gen.IMAGE_CASES))
def test_views_equal_official_bit_for_bit(name: str) -> None:
    reference = PIXELS["images"][name]
    image = media_gen.make_image(name)
    assert media_gen.sha256(np.asarray(image)) == reference["input_sha256"], "test image generator changed"

    views = process_image(image)

    assert list(views.lowres.shape) == reference["lowres_shape"]
    assert list(views.highres.shape) == reference["highres_shape"]
    assert views.lowres.dtype == views.highres.dtype == torch.float32
    assert media_gen.sha256(views.lowres.numpy()) == reference["lowres_sha256"]
    assert media_gen.sha256(views.highres.numpy()) == reference["highres_sha256"]
    assert media_token_count(views) == reference["tokens"]


def test_token_formula_of_the_spec_example() -> None:
    """640×480 → low 416×320, high 640×480 → 3 + 10·14 + 15·21 = 458 tokens.

    The example of docs/official-ola.md §3.1.
    """
    views = process_image(np.zeros((480, 640, 3), dtype=np.uint8))
    assert views.lowres.shape == (3, 320, 416)
    assert views.highres.shape == (3, 480, 640)
    assert media_token_count(views) == 458


def test_padding_is_centred_grey_127() -> None:
    white = np.full((10, 20, 3), 255, dtype=np.uint8)
    highres = process_image(white).highres  # (3, 32, 32): 6 + 10 + 16 rows, 6 + 20 + 6 columns
    grey = (np.float32(127 / 255) - np.float32(0.5)) / np.float32(0.5)
    assert highres.shape == (3, 32, 32)
    assert torch.all(highres[:, 11:21, 6:26] == 1.0)
    assert torch.all(highres[:, :11, :] == torch.tensor(grey))
    assert torch.all(highres[:, 21:, :] == torch.tensor(grey))
    assert torch.all(highres[:, :, :6] == torch.tensor(grey))


def test_paths_pil_images_and_arrays_give_the_same_tensors(tmp_path: Path) -> None:
    image = media_gen.make_image("odd_333x517")
    path = tmp_path / "picture.png"
    image.save(path)
    from_pil = process_image(image)
    for source in (path, str(path), np.asarray(image)):
        other = process_image(source)
        assert torch.equal(other.lowres, from_pil.lowres)
        assert torch.equal(other.highres, from_pil.highres)


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    """A phone photo stored landscape with 'rotate 90° CW' (orientation 6) is seen upright."""
    stored = Image.new("RGB", (60, 40), (0, 0, 0))
    stored.paste((255, 0, 0), (0, 0, 10, 40))  # red band on the stored image's left edge
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "photo.jpg"
    stored.save(path, exif=exif.tobytes(), quality=100, subsampling=0)

    upright = np.asarray(load_image(path))
    assert upright.shape == (60, 40, 3)  # portrait after rotation
    assert upright[2, 20, 0] > 200 and upright[2, 20, 1] < 60  # the red band is now at the top
    assert upright[-3, 20, 0] < 60


def test_transparency_is_composited_on_white() -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)  # fully transparent black
    rgba[0, 0] = (0, 0, 255, 255)  # one opaque blue pixel
    rgb = np.asarray(load_image(rgba))
    assert tuple(rgb[0, 0]) == (0, 0, 255)
    assert tuple(rgb[3, 3]) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "LA", "CMYK", "P", "I;16", "1"])
def test_every_pil_mode_becomes_8_bit_rgb(mode: str) -> None:
    base = Image.fromarray(media_gen.rgb_pattern(24, 16, seed=3))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257)
    elif mode == "P":
        image = base.quantize(colors=8)
    else:
        image = base.convert(mode)
    rgb = load_image(image)
    assert rgb.mode == "RGB" and rgb.size == (24, 16)
    if mode == "I;16":  # 16-bit values are scaled to 8 bits, not clipped to white
        assert np.array_equal(np.asarray(rgb)[..., 0], np.asarray(base.convert("L")))


def test_corrupt_png_names_the_file_and_the_problem(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    media_gen.make_image("vga_640x480").save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:2000])  # truncated in the middle of the pixel data
    with pytest.raises(MediaError, match=r"broken\.png.*corrupt or truncated"):
        process_image(broken)


def test_text_file_renamed_png_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image\n")
    with pytest.raises(MediaError, match=r"notes\.png.*not an image format"):
        process_image(fake)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"nothere\.jpg.*does not exist"):
        process_image(tmp_path / "nothere.jpg")


@pytest.mark.parametrize(
    ("array", "problem"),
    [
        (np.zeros((8, 8, 3), dtype=np.float32), "dtype float32"),
        (np.zeros((8, 8, 2), dtype=np.uint8), r"shape \(8, 8, 2\)"),
        (np.zeros((2, 8, 8, 3), dtype=np.uint8), r"shape \(2, 8, 8, 3\)"),
    ],
)
def test_unusable_arrays_are_rejected(array: np.ndarray, problem: str) -> None:
    with pytest.raises(MediaError, match=problem):
        process_image(array)
