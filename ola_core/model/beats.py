"""BEATs (iter3+, AudioSet fine-tuned), the sounds-and-music half of Ola's dual speech encoder.

Each 30 s chunk's kaldi filterbank (``ola_core.processing.fbank``) becomes 1496 frames, which
the dual encoder pads to Whisper's 1500. Weights come from the official
``BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt`` (``{'cfg', 'model'}``, fp32), read by
:mod:`ola_core.model.encoder_files`.

Numerics follow the official code (Ola-Omni/Ola @ f681820, docs/official-ola.md §1.6, §5.1):
- BEATs always runs in fp32, including its kaldi filterbank.
- Its attention subtracts the row maximum and rescales by 32 (``q·d^-½/32``,
  ``(qkᵀ − max)·32``), then adds a gated relative position bias shared by all layers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.errors import CorruptModelFileError
from ola_core.model.locator import BEATS_FILE_NAME, SPEECH_ENCODERS_REPO
from ola_core.processing.fbank import kaldi_fbank

# ``cfg`` of BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt as published for that checkpoint
# (the loader always uses the cfg stored in the file; this one is for full-size random builds).
BEATS_AS2M_CPT2_CFG: dict[str, Any] = {
    "input_patch_size": 16,
    "embed_dim": 512,
    "conv_bias": False,
    "encoder_layers": 12,
    "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12,
    "activation_fn": "gelu",
    "layer_wise_gradient_decay_ratio": 0.6,
    "layer_norm_first": False,
    "deep_norm": True,
    "dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "encoder_layerdrop": 0.05,
    "dropout_input": 0.0,
    "conv_pos": 128,
    "conv_pos_groups": 16,
    "relative_position_embedding": True,
    "num_buckets": 320,
    "max_distance": 800,
    "gru_rel_pos": True,
    "finetuned_model": True,
    "predictor_dropout": 0.0,
    "predictor_class": 527,
}

# BEATs input normalisation: the AudioSet mean/std of its filterbank features.
_FBANK_MEAN = 15.41663
_FBANK_STD = 6.55582


@dataclass(frozen=True)
class BeatsConfig:
    """The fields of a BEATs checkpoint's ``cfg`` that shape the inference network.

    Training-only entries (dropouts, layer drop, gradient decay) are accepted and ignored: the
    network only ever runs in inference here.
    """

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    deep_norm: bool = False
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = False
    num_buckets: int = 320
    max_distance: int = 1280
    gru_rel_pos: bool = False
    finetuned_model: bool = False
    predictor_class: int = 527

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> BeatsConfig:
        """Take the known keys of a checkpoint ``cfg`` (defaults as BEATs' own config class)."""
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in cfg.items() if k in known})
        if config.layer_norm_first or config.activation_fn != "gelu":
            raise CorruptModelFileError(
                "This BEATs checkpoint uses a variant (pre-LayerNorm or a non-GELU activation) that Ola's "
                f"BEATs never had; use {BEATS_FILE_NAME} from {SPEECH_ENCODERS_REPO}."
            )
        return config


class _WeightNormConv1d(nn.Module):
    """A grouped Conv1d whose weight is ``weight_v`` rescaled to norm ``weight_g`` per kernel tap.

    Written out (rather than torch's weight-norm parametrization) so the state-dict keys stay the
    ``weight_g`` / ``weight_v`` of the official BEATs checkpoint; the norm is taken over every
    axis except the last (``dim=2``), as in the official ``weight_norm(conv, dim=2)``.
    """

    def __init__(self, channels: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.padding = kernel_size // 2
        v = torch.randn(channels, channels // groups, kernel_size) * math.sqrt(4 / (kernel_size * channels))
        self.weight_g = nn.Parameter(v.norm(dim=(0, 1), keepdim=True))  # (1, 1, K)
        self.weight_v = nn.Parameter(v)  # (C, C/groups, K)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight_v * (self.weight_g / self.weight_v.norm(dim=(0, 1), keepdim=True))
        return F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)


@functools.lru_cache(maxsize=4)
def relative_position_buckets(length: int, num_buckets: int, max_distance: int) -> Tensor:
    """T5-style bidirectional buckets of key−query offsets, (length, length) int64.

    Half the buckets per direction; the first half of those are exact offsets, the rest grow
    logarithmically up to ``max_distance`` (then saturate). Cached: every 30 s chunk has the
    same length, and the table costs as much as a small layer to build.
    """
    positions = torch.arange(length, device="cpu")  # cached: always on the CPU
    offset = positions[None, :] - positions[:, None]  # key − query
    half = num_buckets // 2
    buckets = (offset > 0).long() * half
    distance = offset.abs()
    max_exact = half // 2
    # clamp_min(1) only avoids log(0); those positions take the exact branch anyway.
    log_ratio = torch.log(distance.clamp_min(1).float() / max_exact) / math.log(max_distance / max_exact)
    far = (max_exact + (log_ratio * (half - max_exact)).long()).clamp_max(half - 1)
    return buckets + torch.where(distance < max_exact, distance, far)


class BeatsAttention(nn.Module):
    """BEATs self-attention with its overflow-avoiding rescaling and gated relative position bias."""

    alpha = 32.0  # the official rescaling constant

    def __init__(self, dim: int, n_head: int, gated_bias: bool) -> None:
        super().__init__()
        self.n_head = n_head
        self.head_dim = dim // n_head
        self.scaling = self.head_dim**-0.5
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.gated_bias = gated_bias
        if gated_bias:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, n_head, 1, 1))
        # Set by BeatsTransformer: one embedding shared by every layer (kept under each layer's
        # name in the state dict, as in the official checkpoint).
        self.relative_attention_bias: nn.Embedding | None = None

    def forward(self, x: Tensor, position_bias: Tensor | None) -> Tensor:
        """x (n, T, C); position_bias (H, T, T) or None → (n, T, C)."""
        n, t, c = x.shape

        def heads(y: Tensor) -> Tensor:  # (n, T, C) -> (n, H, T, d)
            return y.view(n, t, self.n_head, self.head_dim).transpose(1, 2)

        q = heads(self.q_proj(x) * self.scaling * (1 / self.alpha))
        k, v = heads(self.k_proj(x)), heads(self.v_proj(x))
        scores = q @ k.transpose(-1, -2)  # (n, H, T, T)
        scores = (scores - scores.amax(dim=-1, keepdim=True)) * self.alpha
        if position_bias is not None:
            if self.gated_bias:
                # The gate sees the unscaled query (undoing the scaling exactly as the official code).
                gates = self.grep_linear(q * self.alpha / self.scaling).view(n, self.n_head, t, 2, 4)
                gate_a, gate_b = torch.sigmoid(gates.sum(-1)).chunk(2, dim=-1)  # (n, H, T, 1) each
                position_bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * position_bias
            scores = scores + position_bias
        out = torch.softmax(scores, dim=-1) @ v  # (n, H, T, d)
        return self.out_proj(out.transpose(1, 2).reshape(n, t, c))


class BeatsLayer(nn.Module):
    """Post-LayerNorm transformer layer with DeepNorm residual scaling."""

    def __init__(self, config: BeatsConfig) -> None:
        super().__init__()
        dim = config.encoder_embed_dim
        self.self_attn = BeatsAttention(dim, config.encoder_attention_heads, config.gru_rel_pos)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, config.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_embed_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.residual_scale = (2 * config.encoder_layers) ** 0.25 if config.deep_norm else 1.0

    def forward(self, x: Tensor, position_bias: Tensor | None) -> Tensor:
        x = self.self_attn_layer_norm(x * self.residual_scale + self.self_attn(x, position_bias))
        return self.final_layer_norm(x * self.residual_scale + self.fc2(F.gelu(self.fc1(x))))


class BeatsTransformer(nn.Module):
    """Convolutional position embedding, LayerNorm, then the post-LN layers (``beats.encoder``)."""

    def __init__(self, config: BeatsConfig) -> None:
        super().__init__()
        dim = config.encoder_embed_dim
        self.pos_conv = nn.Sequential(_WeightNormConv1d(dim, config.conv_pos, config.conv_pos_groups))
        # An even kernel with padding k/2 yields one frame too many; the last one is dropped.
        self.pos_conv_trim = 1 if config.conv_pos % 2 == 0 else 0
        layers = [BeatsLayer(config) for _ in range(config.encoder_layers)]
        self.layers = nn.ModuleList(layers)
        self.layer_norm = nn.LayerNorm(dim)
        self.num_buckets = config.num_buckets
        self.max_distance = config.max_distance
        if config.relative_position_embedding:
            shared = nn.Embedding(config.num_buckets, config.encoder_attention_heads)
            for layer in layers:
                layer.self_attn.relative_attention_bias = shared

    def _bias_table(self) -> nn.Embedding | None:
        first = self.layers[0] if len(self.layers) else None
        return first.self_attn.relative_attention_bias if isinstance(first, BeatsLayer) else None

    def forward(self, x: Tensor) -> Tensor:
        """(n, T, C) → (n, T, C)."""
        conv = self.pos_conv(x.transpose(1, 2))  # (n, C, T + trim)
        conv = conv[..., : conv.shape[-1] - self.pos_conv_trim]
        x = self.layer_norm(x + F.gelu(conv).transpose(1, 2))
        table = self._bias_table()
        position_bias = None
        if table is not None:
            buckets = relative_position_buckets(x.shape[1], self.num_buckets, self.max_distance)
            position_bias = table(buckets.to(x.device)).permute(2, 0, 1)  # (H, T, T)
        for layer in self.layers:
            x = layer(x, position_bias)
        return x


class Beats(nn.Module):
    """BEATs audio encoder (iter3+, AudioSet fine-tuned); names as in the official checkpoint.

    Always fp32: its filterbank and its rescaled attention were made for fp32.
    """

    def __init__(self, config: BeatsConfig) -> None:
        super().__init__()
        self.config = config
        patch = config.input_patch_size
        self.patch_embedding = nn.Conv2d(
            1, config.embed_dim, kernel_size=patch, stride=patch, bias=config.conv_bias
        )
        self.layer_norm = nn.LayerNorm(config.embed_dim)
        self.post_extract_proj = (
            nn.Linear(config.embed_dim, config.encoder_embed_dim)
            if config.embed_dim != config.encoder_embed_dim
            else None
        )
        self.encoder = BeatsTransformer(config)
        # The AudioSet classifier: unused by Ola, kept so the checkpoint loads strictly.
        self.predictor = (
            nn.Linear(config.encoder_embed_dim, config.predictor_class) if config.finetuned_model else None
        )

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any]) -> Beats:
        """Build from a checkpoint's ``cfg`` dict."""
        return cls(BeatsConfig.from_dict(cfg))

    @staticmethod
    def fbank(wavs: Tensor) -> Tensor:
        """(n, samples) waveforms in [-1, 1] → (n, frames, 128) normalised filterbanks."""
        banks = torch.stack([kaldi_fbank(wav * 2**15) for wav in wavs.to(torch.float32)])
        return (banks - _FBANK_MEAN) / (2 * _FBANK_STD)

    def forward(self, wavs: Tensor) -> Tensor:
        """(n, samples) float 16 kHz → (n, T, encoder_embed_dim) fp32; T = 1496 for a 30 s chunk."""
        x = self.patch_embedding(self.fbank(wavs).unsqueeze(1))  # (n, E, frames/16, 128/16)
        x = self.layer_norm(x.flatten(2).transpose(1, 2))  # (n, T, E), time-major patches
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        return self.encoder(x)
