"""OlaForCausalLM: transformers' Qwen2 with image, video and speech embeddings spliced in.

The language model is transformers' own Qwen2 (``Qwen2ForCausalLM``), unchanged; Ola adds
encoders and projectors under ``model.*`` with the official checkpoint's names, and one method,
:meth:`OlaForCausalLM.embed_prompt`, that turns :class:`~ola_core.processing.inputs.PromptInputs`
into the input embeddings the LLM was trained on. Generation then goes through transformers'
``generate(inputs_embeds=...)``.

Splicing goes by placeholder *type* (the official code fills by count: all visual features
first, then speech, which mis-fills prompts whose speech placeholder precedes a visual one).
For single-turn prompts the prompt builder orders placeholders so the result equals the
official sequence (video + audio: visual placeholder first).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from transformers import AutoConfig, AutoModelForCausalLM, Qwen2ForCausalLM, Qwen2Model
from transformers.models.qwen2.modeling_qwen2 import Qwen2PreTrainedModel

from ola_core.errors import MediaError
from ola_core.model.configuration import OLA_MODEL_TYPE, OlaConfig
from ola_core.model.dual_encoder import DualSpeechEncoder
from ola_core.model.projectors import OlaMLP, SpeechProjector
from ola_core.model.vision import VisionTower
from ola_core.processing.inputs import (
    ImageInput,
    PromptInputs,
    SpeechInput,
    VideoInput,
)
from ola_core.processing.tokens import IMAGE_TOKEN_INDEX, SPEECH_TOKEN_INDEX

# Visual sides must give an even patch grid for the 2×2 pooler: multiples of 2·16 pixels.
VISUAL_SIDE_MULTIPLE = 32
MEL_FRAMES, MEL_BINS, CHUNK_SAMPLES = 3000, 128, 480000


class OlaModel(Qwen2Model):
    """Qwen2's decoder stack plus the multimodal encoders and projectors (``model.*`` keys)."""

    config_class = OlaConfig

    def __init__(self, config: OlaConfig) -> None:
        super().__init__(config)
        self.speech_encoder = DualSpeechEncoder(config, config.speech_whisper_dims, config.speech_beats_cfg)
        self.speech_projector = SpeechProjector(config)
        self.vision_tower = VisionTower(config)
        self.mm_projector = OlaMLP(config.mm_hidden_size, config.hidden_size)


class OlaForCausalLM(Qwen2ForCausalLM):
    """Ola-7B: Qwen2.5-7B + OryxViT + Whisper-large-v3/BEATs, with ``embed_prompt``."""

    config_class = OlaConfig
    # The speech encoders are replaced by the official ``.pt`` files after loading, and the
    # vision/speech parts must never be split from their own weights across devices.
    _no_split_modules = [  # noqa: RUF012 - transformers declares it a plain class attribute
        "Qwen2DecoderLayer",
        "VisionTower",
        "DualSpeechEncoder",
        "OlaMLP",
        "SpeechProjector",
    ]

    # The loader always takes the speech encoders from their own .pt files (as officially), so a
    # checkpoint whose shards lack the encoder copy loads without complaint.
    _keys_to_ignore_on_load_missing = [r"model\.speech_encoder\."]  # noqa: RUF012

    def __init__(self, config: OlaConfig) -> None:
        # Skip Qwen2ForCausalLM.__init__: it would build (and initialise) a second, plain Qwen2Model.
        Qwen2PreTrainedModel.__init__(self, config)
        self.model = OlaModel(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    # --- media encoders --------------------------------------------------------------------
    def encode_images(self, images: Sequence[ImageInput]) -> list[Tensor]:
        """Each image → (3 + h1(w1+1) + h2(w2+1), hidden) embeddings.

        The low-res views of all images run as one block-diagonal ViT sequence (as officially);
        each high-res view runs alone.
        """
        tower, projector = self.model.vision_tower, self.model.mm_projector
        device = tower.vision_tower.pos_embed.device
        low_feats, low_sizes = tower.forward_list([image.lowres.to(device) for image in images])
        out = []
        for image, low, low_size in zip(images, low_feats, low_sizes, strict=True):
            high, high_size = tower.forward_batch(image.highres.to(device).unsqueeze(0))
            out.append(projector.forward_image(low, low_size, high[0], high_size))
        return out

    def encode_video(self, video: VideoInput) -> Tensor:
        """All frames → (2 + T·(h(w+1) + 1), hidden) embeddings (the trained, list-wrapped path)."""
        tower = self.model.vision_tower
        feats, size = tower.forward_batch(video.frames.to(tower.vision_tower.pos_embed.device))
        return self.model.mm_projector.forward_video(feats, size)

    def encode_speech(self, speech: SpeechInput) -> Tensor:
        """One clip of n 30 s chunks → (2 + 151·n, hidden) embeddings."""
        encoder, projector = self.model.speech_encoder, self.model.speech_projector
        device = projector.linear1.weight.device
        with torch.no_grad():  # the encoders were frozen in training and never need gradients
            features = encoder(speech.mels.to(device), speech.wavs.to(device))  # (n, 1500, D)
        return projector(features.to(projector.linear1.weight.dtype))

    # --- splicing ----------------------------------------------------------------------------
    def embed_prompt(self, inputs: PromptInputs) -> Tensor:
        """Token embeddings with each placeholder replaced by its media's embeddings: (1, L, hidden).

        The k-th IMAGE placeholder takes ``inputs.visuals[k]``, the k-th SPEECH placeholder
        ``inputs.speech[k]``. Text-only prompts are exactly ``embed_tokens(ids)`` (no encoder runs).
        """
        _check_media(inputs)
        ids = torch.tensor(inputs.input_ids, dtype=torch.long)
        embed = self.model.embed_tokens
        is_text = ids >= 0
        if bool((ids[is_text] >= embed.num_embeddings).any()):
            raise ValueError(f"token id out of range for a vocabulary of {embed.num_embeddings}")
        text = embed(ids[is_text].to(embed.weight.device))  # (n_text, hidden)
        if bool(is_text.all()):
            return text.unsqueeze(0)

        images = [v for v in inputs.visuals if isinstance(v, ImageInput)]
        image_embeds = iter(self.encode_images(images) if images else [])
        visual_embeds = [
            next(image_embeds) if isinstance(v, ImageInput) else self.encode_video(v) for v in inputs.visuals
        ]
        speech_embeds = [self.encode_speech(s) for s in inputs.speech]

        pieces: list[Tensor] = []
        visual_iter, speech_iter = iter(visual_embeds), iter(speech_embeds)
        start = 0  # next unused row of ``text``
        run = 0  # length of the current text run
        for token in inputs.input_ids:
            if token >= 0:
                run += 1
                continue
            pieces.append(text[start : start + run])
            start, run = start + run, 0
            media = next(visual_iter) if token == IMAGE_TOKEN_INDEX else next(speech_iter)
            pieces.append(media.to(device=text.device, dtype=text.dtype))
        pieces.append(text[start : start + run])
        return torch.cat(pieces).unsqueeze(0)


def _check_media(inputs: PromptInputs) -> None:
    """Raise MediaError unless placeholders and media agree in number, kind and shape."""
    ids = inputs.input_ids
    unknown = {t for t in ids if t < 0 and t not in (IMAGE_TOKEN_INDEX, SPEECH_TOKEN_INDEX)}
    if unknown:
        raise MediaError(
            f"The prompt holds unknown placeholder ids {sorted(unknown)}; this is a bug in the prompt builder."
        )
    n_visual, n_speech = ids.count(IMAGE_TOKEN_INDEX), ids.count(SPEECH_TOKEN_INDEX)
    if n_visual != len(inputs.visuals) or n_speech != len(inputs.speech):
        raise MediaError(
            f"The prompt has {n_visual} image/video and {n_speech} speech placeholder(s) but "
            f"{len(inputs.visuals)} image/video and {len(inputs.speech)} speech input(s) were given; "
            "attach the media again or start a new conversation."
        )
    for visual in inputs.visuals:
        if isinstance(visual, ImageInput):
            for name, pixels in (("low-res", visual.lowres), ("high-res", visual.highres)):
                _check_pixels(pixels, 3, f"image {name} view")
        elif isinstance(visual, VideoInput):
            _check_pixels(visual.frames, 4, "video frames")
            if visual.frames.shape[0] == 0:
                raise MediaError("The video has no frames; choose another file.")
        else:
            raise MediaError(f"Unsupported visual input {type(visual).__name__}.")
    for speech in inputs.speech:
        n = speech.mels.shape[0] if speech.mels.ndim == 3 else -1
        if (
            n <= 0
            or tuple(speech.mels.shape[1:]) != (MEL_FRAMES, MEL_BINS)
            or tuple(speech.wavs.shape) != (n, CHUNK_SAMPLES)
        ):
            raise MediaError(
                f"Speech input has mels {tuple(speech.mels.shape)} and wavs {tuple(speech.wavs.shape)}; "
                f"expected (n, {MEL_FRAMES}, {MEL_BINS}) and (n, {CHUNK_SAMPLES}) with n ≥ 1."
            )


def _check_pixels(pixels: Tensor, ndim: int, what: str) -> None:
    shape = tuple(pixels.shape)
    if (
        pixels.ndim != ndim
        or shape[-3] != 3
        or shape[-1] == 0
        or shape[-2] == 0
        or shape[-1] % VISUAL_SIDE_MULTIPLE
        or shape[-2] % VISUAL_SIDE_MULTIPLE
    ):
        raise MediaError(
            f"The {what} have shape {shape}; expected 3 channels and sides that are non-zero multiples "
            f"of {VISUAL_SIDE_MULTIPLE} pixels (the image processor makes them so)."
        )


def register_auto_classes() -> None:
    """Make ``AutoConfig`` / ``AutoModelForCausalLM`` know ``ola_qwen`` (idempotent).

    It lives beside the model class (not the config) so that the configuration never imports
    the network that is built from it.
    """
    with contextlib.suppress(ValueError):  # already registered
        AutoConfig.register(OLA_MODEL_TYPE, OlaConfig)
    with contextlib.suppress(ValueError):
        AutoModelForCausalLM.register(OlaConfig, OlaForCausalLM)
