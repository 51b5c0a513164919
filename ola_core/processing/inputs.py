"""What the prompt builder hands to the model: token ids with placeholders, and the media tensors.

This file is the contract between ``ola_core.processing`` (which makes pixels, mels and ids
exactly as the official inference does) and ``ola_core.model`` (which turns them into input
embeddings). Splicing goes by placeholder *type*: the k-th ``IMAGE_TOKEN_INDEX`` in
``input_ids`` receives ``visuals[k]`` and the k-th ``SPEECH_TOKEN_INDEX`` receives ``speech[k]``
(the placeholder ids live in :mod:`ola_core.processing.tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass(frozen=True)
class ImageInput:
    """One image as the two official views, normalised ``((x/255) - 0.5) / 0.5``, float32.

    The low-res view gives the model the global layout cheaply; the high-res view keeps detail.
    """

    lowres: Tensor  # (3, h, w)   area ≈ 384², sides multiples of 32
    highres: Tensor  # (3, H, W)   native ≤ 1536², grey-padded to multiples of 32


@dataclass(frozen=True)
class VideoInput:
    """Every sampled frame of one clip; all of them reach the model (the trained, list-wrapped path)."""

    frames: Tensor  # (T, 3, H, W) float32, sides multiples of 64


@dataclass(frozen=True)
class SpeechInput:
    """One audio clip cut into 30 s chunks, in the two forms the two speech encoders need."""

    mels: Tensor  # (n, 3000, 128) float32 Whisper log-mel per chunk
    wavs: Tensor  # (n, 480000) float32 raw 16 kHz chunks (zero-padded) for BEATs


@dataclass(frozen=True)
class PromptInputs:
    """Token ids with placeholders, plus the media that fill them, in placeholder order per type."""

    input_ids: list[int]  # text ids with IMAGE/SPEECH_TOKEN_INDEX placeholders
    visuals: list[ImageInput | VideoInput] = field(
        default_factory=list
    )  # k-th visual placeholder ← visuals[k]
    speech: list[SpeechInput] = field(default_factory=list)  # k-th speech placeholder ← speech[k]
