"""Images → the two views Ola's vision tower sees, exactly as the official ``inference/infer.py``.

infer.py sets ``HIGHRES_BASE=0x32``, ``MAXRES=1536``, ``MINRES=0``, ``PAD2STRIDE=1`` and
``LOWRES_RESIZE=384x32`` before importing ``ola.mm_utils``; with those switches an image becomes:

* the **high-res view**: the native image, centre-padded with grey 127 to multiples of 32 — or,
  when its area exceeds 1536², bicubically shrunk to that area with sides floored to multiples
  of 32;
* the **low-res view**: the high-res view (not the original) bicubically resized to an area of
  about 384², sides floored to multiples of 32 (at least 32).

Both are normalised ``((x / 255) - 0.5) / 0.5`` in float32 with the exact operation order of
transformers' ``CLIPImageProcessor`` (uint8 → float64 × 1/255 → float32 → subtract, divide), so
the tensors are bit-identical to the official ones for the same decoded RGB image.

Decoding differs from the official on purpose: EXIF orientation is honoured (phone photos are
otherwise sideways) and transparency is composited on white *before* resizing (the official
drops the alpha channel, which shows whatever colour hides under transparent pixels — black in
most files, so a black logo on a transparent background becomes invisible). Palette images are
converted to RGB first, where the official would resize them with nearest-neighbour.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TypeAlias

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ola_core.errors import MediaError
from ola_core.processing.files import require_file
from ola_core.processing.inputs import ImageInput

ImageSource: TypeAlias = str | Path | Image.Image | np.ndarray

# The official infer.py settings (docs/official-ola.md §1.3).
HIGHRES_MAX_SIDE = 1536  # MAXRES: high-res area bound, 1536²
HIGHRES_STRIDE = 32  # HIGHRES_BASE=0x32
LOWRES_SIDE = 384  # LOWRES_RESIZE=384x32: low-res area ≈ 384²
LOWRES_STRIDE = 32
PAD_VALUE = 127  # grey of the PAD2STRIDE canvas

# CLIPImageProcessor's rescale factor (a Python float, i.e. float64) and Ola's mean = std = 0.5.
_RESCALE = 1 / 255
_MEAN = 0.5
_STD = 0.5

# Longest side a file is decoded at: four times the high-res view's bound, above any camera's
# frame or normal photo. Larger files are shrunk while decoding (see load_image).
DECODE_MAX_SIDE = 4 * HIGHRES_MAX_SIDE


def load_image(source: ImageSource, max_side: int = DECODE_MAX_SIDE) -> Image.Image:
    """Decode ``source`` into an upright 8-bit RGB PIL image.

    Accepts a file path, a PIL image or a uint8 array (H, W, 3) RGB — (H, W) grey and
    (H, W, 4) RGBA arrays too. Any problem becomes a :class:`MediaError` that names the file.

    A file whose longest side exceeds ``max_side`` is shrunk while it is decoded (JPEG's DCT
    scaling, then a bicubic thumbnail), so a 169-megapixel photo never sits in memory at full
    size, and it is decoded once, without copies. Files within ``max_side`` — every normal
    photo and frame — are decoded exactly as the official inference decodes them.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    if isinstance(source, Image.Image):
        return to_rgb(ImageOps.exif_transpose(source))
    path = require_file(source, "Image")
    try:
        with Image.open(path) as opened:
            if max(opened.size) > max_side:
                width, height = opened.size
                scale = max_side / max(width, height)
                # JPEG decodes at 1/2, 1/4 or 1/8 scale when the result still covers this size.
                opened.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
                opened.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=None)
            opened.load()  # decode now: a truncated file fails here, inside the try
            ImageOps.exif_transpose(opened, in_place=True)
            image: Image.Image = opened
        return to_rgb(image)  # the pixels stay usable after the file is closed
    except UnidentifiedImageError:
        raise MediaError(
            f"Cannot read image '{path}': not an image format we can decode. "
            "Use a PNG, JPEG, WebP, BMP, GIF or TIFF file."
        ) from None
    except PermissionError:
        raise MediaError(
            f"Cannot read image '{path}': permission denied. Check the file's permissions."
        ) from None
    except Image.DecompressionBombError as error:
        raise MediaError(f"Image '{path}' is too large to open safely ({error}).") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaError(f"Cannot read image '{path}': the file is corrupt or truncated ({error}).") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB with transparency composited on white; greyscale/CMYK/palette/16-bit converted."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: PIL's convert("RGB") clips at 255 (almost all white); scale instead.
        depth = 16 if image.mode.startswith("I;16") else 32
        values = np.asarray(image, dtype=np.int64) >> (depth - 8)
        image = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _array_to_rgb(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8:
        raise MediaError(f"Image array has dtype {array.dtype}; expected uint8 RGB values 0–255.")
    if array.ndim == 2:
        return Image.fromarray(array).convert("RGB")
    if array.ndim == 3 and array.shape[2] == 3:
        return Image.fromarray(np.ascontiguousarray(array))
    if array.ndim == 3 and array.shape[2] == 4:
        return to_rgb(Image.fromarray(np.ascontiguousarray(array)))
    raise MediaError(f"Image array has shape {array.shape}; expected (height, width, 3) RGB.")


def scaled_size(width: int, height: int, scale: float, stride: int) -> tuple[int, int]:
    """Sides scaled and floored to multiples of ``stride`` (at least one stride).

    The float expression is the official one (``int(w * scale / ps) * ps``) so the sizes agree
    to the pixel; the lower bound is the official image rule, and also guards video frames of
    extreme aspect ratio, where the official video rule can produce a 0-pixel side.
    """
    new_width = max(int(width * scale / stride) * stride, stride)
    new_height = max(int(height * scale / stride) * stride, stride)
    return new_width, new_height


def area_scale(width: int, height: int, side: int) -> float:
    """The factor that brings a ``width × height`` image to an area of ``side²``."""
    return math.sqrt(side * side / (width * height))


def fit_to_area(image: Image.Image, *, stride: int, max_side: int, min_side: int) -> Image.Image:
    """The official any-resolution rule (``resize_images``/``resize_video`` with base 0).

    Area above ``max_side²`` → shrink to it; below ``min_side²`` → enlarge to it (both with sides
    floored to ``stride``); otherwise keep the pixels and centre-pad to ``stride`` with grey 127.
    """
    width, height = image.size
    if width * height > max_side * max_side:
        return resize_bicubic(image, scaled_size(width, height, area_scale(width, height, max_side), stride))
    if width * height < min_side * min_side:
        return resize_bicubic(image, scaled_size(width, height, area_scale(width, height, min_side), stride))
    return pad_to_stride(image, stride)


def resize_bicubic(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """PIL's default ``resize`` for RGB images (bicubic, exact convolution): what the official calls."""
    return image.resize(size, Image.Resampling.BICUBIC)


def pad_to_stride(image: Image.Image, stride: int) -> Image.Image:
    """Centre the image on a grey canvas whose sides are the next multiples of ``stride``."""
    width, height = image.size
    padded_width = -(-width // stride) * stride
    padded_height = -(-height // stride) * stride
    if (padded_width, padded_height) == (width, height):
        return image
    canvas = Image.new("RGB", (padded_width, padded_height), (PAD_VALUE, PAD_VALUE, PAD_VALUE))
    canvas.paste(image, ((padded_width - width) // 2, (padded_height - height) // 2))
    return canvas


def image_views(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The (low-res, high-res) views of an RGB image, as PIL images (see the module docstring)."""
    highres = fit_to_area(image, stride=HIGHRES_STRIDE, max_side=HIGHRES_MAX_SIDE, min_side=0)
    width, height = highres.size
    lowres = resize_bicubic(
        highres, scaled_size(width, height, area_scale(width, height, LOWRES_SIDE), LOWRES_STRIDE)
    )
    return lowres, highres


def to_pixels(image: Image.Image) -> torch.Tensor:
    """RGB PIL image → normalised float32 tensor (3, H, W), with CLIPImageProcessor's arithmetic."""
    array = np.asarray(image, dtype=np.uint8)  # (H, W, 3)
    scaled = (array.astype(np.float64) * _RESCALE).astype(np.float32)
    normalised = (scaled - np.float32(_MEAN)) / np.float32(_STD)
    return torch.from_numpy(np.ascontiguousarray(normalised.transpose(2, 0, 1)))


def process_image(source: ImageSource) -> ImageInput:
    """Load an image (path, PIL image or RGB array) and make the model's two views of it."""
    lowres, highres = image_views(load_image(source))
    return ImageInput(lowres=to_pixels(lowres), highres=to_pixels(highres))
