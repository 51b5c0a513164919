"""The speech side of Ola: Whisper-large-v3 encoder + BEATs, concatenated per frame, and its projector.

Ola hears a clip as 30 s chunks. Each chunk goes through two frozen encoders: Whisper's audio
encoder (speech content, 1500 frames of 20 ms) and BEATs (sounds and music, 1496 frames), whose
outputs are concatenated per frame (BEATs right-padded with zeros to 1500) and projected to the
language model by ``SpeechProjector``: 10 frames → one token, so a chunk becomes 150 tokens plus
a newline and the clip ``2 + 151·n`` tokens.

Both encoders come from their own official files, not from the Ola safetensors (that is what the
official loader runs): ``large-v3.pt`` (openai-whisper format, fp16) and the BEATs ``.pt``
(``{'cfg', 'model'}``, fp32). Both are read with ``torch.load(weights_only=True)`` and written
here in the same formats at toy size for tests.

Numerics follow the official code (Ola-Omni/Ola @ f681820, docs/official-ola.md §1.5, §1.6, §5.1):
- Whisper's LayerNorms run in the input dtype (the official code swaps openai-whisper's
  fp32-upcasting LayerNorm for a plain one); attention is SDPA, as in openai-whisper 20250625.
- BEATs always runs in fp32, including its kaldi filterbank; its weights are those of the file
  rounded through fp16 and then the model dtype, because the official loader casts the whole
  speech encoder to fp16 and then to bf16 before BEATs casts itself back to fp32.
- BEATs' attention subtracts the row maximum and rescales by 32 (``q·d^-½/32``,
  ``(qkᵀ − max)·32``), then adds a gated relative position bias shared by all layers.
"""

from __future__ import annotations

import functools
import math
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.errors import CorruptModelFileError, MediaError, ModelFilesMissingError
from ola_core.model.configuration import OlaConfig

# --- file-level constants ------------------------------------------------------------------------

# ``dims`` of the openai-whisper ``large-v3.pt`` checkpoint.
WHISPER_LARGE_V3_DIMS: dict[str, int] = {
    "n_mels": 128,
    "n_audio_ctx": 1500,
    "n_audio_state": 1280,
    "n_audio_head": 20,
    "n_audio_layer": 32,
    "n_vocab": 51866,
    "n_text_ctx": 448,
    "n_text_state": 1280,
    "n_text_head": 20,
    "n_text_layer": 32,
}
# A toy Whisper with the real mel count and context (the encoder needs exactly 3000 mel frames).
TINY_WHISPER_DIMS: dict[str, int] = {
    "n_mels": 128,
    "n_audio_ctx": 1500,
    "n_audio_state": 64,
    "n_audio_head": 4,
    "n_audio_layer": 2,
    "n_vocab": 51866,
    "n_text_ctx": 8,
    "n_text_state": 64,
    "n_text_head": 4,
    "n_text_layer": 1,
}

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
TINY_BEATS_CFG: dict[str, Any] = {
    **BEATS_AS2M_CPT2_CFG,
    "embed_dim": 16,
    "encoder_layers": 2,
    "encoder_embed_dim": 32,
    "encoder_ffn_embed_dim": 64,
    "encoder_attention_heads": 2,
}

SAMPLE_RATE = 16000  # both encoders hear 16 kHz audio
PROJECTOR_HIDDEN = 2048  # width of the speech projector's inner layer (hard-coded officially)

# BEATs input normalisation: the AudioSet mean/std of its filterbank features.
_FBANK_MEAN = 15.41663
_FBANK_STD = 6.55582
# kaldi's log floor: numeric_limits<float>::epsilon().
_KALDI_EPSILON = torch.finfo(torch.float32).eps


# --- Whisper encoder -----------------------------------------------------------------------------


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> Tensor:
    """Whisper's fixed sinusoidal position table (length, channels): sines, then cosines."""
    log_timescale_increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


class WhisperAttention(nn.Module):
    """Non-causal multi-head self-attention; the key projection has no bias, as in Whisper."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x: Tensor) -> Tensor:
        n, t, c = x.shape  # (n, T, C)

        def heads(y: Tensor) -> Tensor:  # (n, T, C) -> (n, H, T, C/H)
            return y.view(n, t, self.n_head, c // self.n_head).transpose(1, 2)

        a = F.scaled_dot_product_attention(heads(self.query(x)), heads(self.key(x)), heads(self.value(x)))
        return self.out(a.transpose(1, 2).reshape(n, t, c))


class WhisperBlock(nn.Module):
    """Pre-LayerNorm residual block: attention, then a 4× MLP with exact GELU."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = WhisperAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.attn_ln(x))
        return x + self.mlp(self.mlp_ln(x))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder; parameter names are those of openai-whisper's ``model.encoder``.

    LayerNorms are plain ``nn.LayerNorm`` so they run in the input dtype, as in the official Ola
    code (openai-whisper's own LayerNorm would upcast to fp32 and give different bf16 numbers).
    """

    def __init__(self, n_mels: int, n_ctx: int, n_state: int, n_head: int, n_layer: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        # A persistent buffer, stored in the checkpoint (large-v3.pt holds the same table).
        self.register_buffer("positional_embedding", sinusoids(n_ctx, n_state))
        self.positional_embedding: Tensor
        self.blocks = nn.ModuleList(WhisperBlock(n_state, n_head) for _ in range(n_layer))
        self.ln_post = nn.LayerNorm(n_state)

    @classmethod
    def from_dims(cls, dims: Mapping[str, int]) -> WhisperEncoder:
        """Build from an openai-whisper ``dims`` dict (only the ``n_audio_*`` / ``n_mels`` entries matter)."""
        return cls(
            dims["n_mels"],
            dims["n_audio_ctx"],
            dims["n_audio_state"],
            dims["n_audio_head"],
            dims["n_audio_layer"],
        )

    def forward(self, mels: Tensor) -> Tensor:
        """(n, n_mels, 2·n_ctx) log-mel → (n, n_ctx, n_state), in the weights' dtype."""
        x = mels.to(self.conv1.weight.dtype)
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # (n, n_ctx, C)
        if x.shape[1:] != self.positional_embedding.shape:
            raise ValueError(
                f"Whisper expects {2 * self.positional_embedding.shape[0]} mel frames, got {mels.shape[-1]}"
            )
        x = (x + self.positional_embedding).to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x)


# --- BEATs ---------------------------------------------------------------------------------------


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
                "BEATs never had; use BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt from Ola_speech_encoders."
            )
        return config


def kaldi_fbank(wav: Tensor, num_mel_bins: int = 128) -> Tensor:
    """Kaldi ``compute-fbank-feats`` of one 16 kHz waveform (samples,) → (frames, num_mel_bins).

    The settings BEATs uses: 25 ms povey windows every 10 ms, edges snipped, per-frame DC removal,
    pre-emphasis 0.97, no dither, 512-point power spectrum, mel bins from 20 Hz to Nyquist, natural
    log floored at float epsilon. Computed in fp32 like torchaudio's kaldi-compatible code.
    """
    window_size, window_shift, n_fft = 400, 160, 512  # 25 ms, 10 ms at 16 kHz; next power of two
    x = wav.to(torch.float32)
    if x.shape[-1] < window_size:
        raise ValueError(f"audio of {x.shape[-1]} samples is shorter than one 25 ms frame")
    frames = x.unfold(-1, window_size, window_shift)  # (m, 400), only frames that fit whole
    frames = frames - frames.mean(dim=-1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=-1)  # x[j-1], x[0] repeated at j=0
    frames = frames - 0.97 * previous
    frames = frames * _povey_window(window_size, x.device)
    frames = F.pad(frames, (0, n_fft - window_size))
    power = torch.fft.rfft(frames).abs().pow(2.0)  # (m, 257)
    mel = power @ _kaldi_mel_banks(num_mel_bins, n_fft, SAMPLE_RATE).to(x.device).T
    return mel.clamp_min(_KALDI_EPSILON).log()


def _povey_window(size: int, device: torch.device) -> Tensor:
    # Kaldi's povey window: a symmetric Hann window raised to 0.85 (reaches zero at the edges).
    return torch.hann_window(size, periodic=False, dtype=torch.float32, device=device).pow(0.85)


@functools.cache
def _kaldi_mel_banks(num_bins: int, n_fft: int, sample_rate: int) -> Tensor:
    """Kaldi's triangular mel filters (num_bins, n_fft/2 + 1), 20 Hz to Nyquist, zero at Nyquist.

    Built with the same fp32 arithmetic as torchaudio's ``get_mel_banks`` so the features match
    to the last bit, not merely to the mathematics.
    """

    def mel_scale(hz: float) -> float:
        return 1127.0 * math.log(1.0 + hz / 700.0)

    low, high = mel_scale(20.0), mel_scale(0.5 * sample_rate)
    delta = (high - low) / (num_bins + 1)
    # Cached, so always built on the CPU whatever device context the first call runs under.
    index = torch.arange(num_bins, device="cpu").unsqueeze(1)  # (num_bins, 1) int64, promoted like kaldi.py
    left = low + index * delta
    center = low + (index + 1.0) * delta
    right = low + (index + 2.0) * delta
    fft_mel = (
        1127.0 * (1.0 + (sample_rate / n_fft) * torch.arange(float(n_fft // 2), device="cpu") / 700.0).log()
    )
    fft_mel = fft_mel.unsqueeze(0)  # (1, n_fft/2)
    rising = (fft_mel - left) / (center - left)
    falling = (right - fft_mel) / (right - center)
    banks = torch.clamp_min(torch.min(rising, falling), 0.0)
    return F.pad(banks, (0, 1))  # the Nyquist bin gets no weight


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


# --- the dual encoder and the projector ----------------------------------------------------------


class DualSpeechEncoder(nn.Module):
    """Whisper + BEATs per 30 s chunk, concatenated per frame (``model.speech_encoder``).

    ``whisper_dims`` / ``beats_cfg`` describe the two encoder files (the ``dims`` and ``cfg`` they
    store). Without them the config's ``speech_whisper_dims`` / ``speech_beats_cfg`` apply (our
    fields, absent from the official config.json, written by tiny checkpoints), else large-v3 and
    the published BEATs checkpoint.
    """

    def __init__(
        self,
        config: OlaConfig,
        whisper_dims: Mapping[str, int] | None = None,
        beats_cfg: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        whisper_dims = whisper_dims or getattr(config, "speech_whisper_dims", None) or WHISPER_LARGE_V3_DIMS
        beats_cfg = beats_cfg or getattr(config, "speech_beats_cfg", None) or BEATS_AS2M_CPT2_CFG
        self.whisper_model = WhisperEncoder.from_dims(whisper_dims)
        self.beats_model = Beats.from_cfg(beats_cfg)
        width = self.whisper_model.ln_post.normalized_shape[0] + self.beats_model.config.encoder_embed_dim
        if width != config.speech_encoder_hidden_size:
            raise CorruptModelFileError(
                f"The speech encoder files give {width}-wide features but the model expects "
                f"{config.speech_encoder_hidden_size} (speech_encoder_hidden_size). Use the large-v3.pt "
                "and BEATs files from Ola_speech_encoders that belong to this model."
            )

    @classmethod
    def from_files(
        cls,
        config: OlaConfig,
        whisper_path: str | Path,
        beats_path: str | Path,
        dtype: torch.dtype = torch.bfloat16,
        device: str | torch.device = "cpu",
    ) -> DualSpeechEncoder:
        """Read both official files and build the encoder with the official effective weights.

        Whisper gets ``dtype``. BEATs stays fp32 but its weights pass through the same roundings
        as in the official loader: file fp32 → fp16 → ``dtype`` → fp32 (the official builder casts
        the speech encoder to fp16 whatever the model dtype, so even an fp32 run sees fp16 values).
        """
        dims, whisper_state = load_whisper_encoder_state(whisper_path)
        cfg, beats_state = load_beats_state(beats_path)
        with torch.device("meta"):
            encoder = cls(config, dims, cfg)
        state = {f"whisper_model.{k}": v.to(device=device, dtype=dtype) for k, v in whisper_state.items()}
        state.update(
            {
                f"beats_model.{k}": _official_beats_rounding(v, dtype).to(device)
                for k, v in beats_state.items()
            }
        )
        encoder.load_state_dict(state, strict=True, assign=True)  # the shared bias table stays one module
        return encoder.eval()

    def forward(self, mels: Tensor, wavs: Tensor) -> Tensor:
        """mels (n, 3000, n_mels), wavs (n, 480000) → (n, 1500, whisper + BEATs width), Whisper's dtype."""
        frames = 2 * self.whisper_model.positional_embedding.shape[0]
        n_mels = self.whisper_model.conv1.in_channels
        if mels.ndim != 3 or mels.shape[1:] != (frames, n_mels) or wavs.ndim != 2 or len(wavs) != len(mels):
            raise MediaError(
                f"Speech input must be n chunks of {frames}×{n_mels} mel frames and n raw 30 s chunks; "
                f"got mels {tuple(mels.shape)} and waveforms {tuple(wavs.shape)}. Prepare audio with "
                "ola_core.processing.audio."
            )
        with torch.no_grad():
            if self.beats_model.patch_embedding.weight.dtype != torch.float32:
                self.beats_model.float()  # the official encoder re-floats BEATs on every call too
            speech = self.whisper_model(mels.transpose(1, 2))  # (n, 1500, Dw)
            # One chunk at a time: BEATs' (heads, T, T) attention maps are large; results are the same.
            sound = torch.cat([self.beats_model(wav[None]) for wav in wavs])  # (n, 1496, Db) fp32
            length = max(speech.shape[1], sound.shape[1])
            speech = F.pad(speech, (0, 0, 0, length - speech.shape[1]))
            sound = F.pad(sound, (0, 0, 0, length - sound.shape[1]))
            return torch.cat([speech, sound.to(speech.dtype)], dim=-1)


class SpeechProjector(nn.Module):
    """Stack ``k`` consecutive frames, 2-layer ReLU MLP, newline per chunk, begin/end per clip.

    ``model.speech_projector`` (the official ``EncoderProjectorConcat``).
    """

    def __init__(self, config: OlaConfig) -> None:
        super().__init__()
        self.k = config.speech_encoder_ds_rate
        hidden = config.hidden_size
        self.linear1 = nn.Linear(config.speech_encoder_hidden_size * self.k, PROJECTOR_HIDDEN)
        self.linear2 = nn.Linear(PROJECTOR_HIDDEN, hidden)
        std = hidden**-0.5
        self.speech_newline = nn.Parameter(torch.randn(hidden) * std)
        self.speech_begin = nn.Parameter(torch.randn(hidden) * std)
        self.speech_end = nn.Parameter(torch.randn(hidden) * std)

    def forward(self, x: Tensor) -> Tensor:
        """(n, T, D) encoder frames of one clip → (2 + n·(T//k + 1), hidden) embeddings."""
        n, t, d = x.shape
        t -= t % self.k  # trailing frames that do not fill a group are dropped
        x = x[:, :t].reshape(n, t // self.k, d * self.k)
        x = self.linear2(F.relu(self.linear1(x)))  # (n, T/k, hidden)
        newline = self.speech_newline.to(x.dtype).expand(n, 1, -1)
        x = torch.cat([x, newline], dim=1).flatten(0, 1)
        begin, end = self.speech_begin.to(x.dtype)[None], self.speech_end.to(x.dtype)[None]
        return torch.cat([begin, x, end])


# --- files ---------------------------------------------------------------------------------------


def _official_beats_rounding(weight: Tensor, dtype: torch.dtype) -> Tensor:
    # The official loader casts the whole speech encoder to fp16 (builder.py:71), then the model
    # to ``dtype``; BEATs then casts itself back to fp32 at every call.
    return weight.to(torch.float16).to(dtype).float()


def _torch_load(path: str | Path, what: str) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with the user-facing errors of a missing or broken file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFilesMissingError(
            f"The {what} file {path} does not exist. Download it from THUdyh/Ola_speech_encoders "
            "on Hugging Face (or point the app at the folder that holds it)."
        )
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) file
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError) as error:
        raise CorruptModelFileError(
            f"The {what} file {path} cannot be read ({type(error).__name__}: {str(error)[:200]}). "
            "It is probably truncated or not the right file: download it again."
        ) from error
    if not isinstance(obj, dict):
        raise CorruptModelFileError(
            f"The {what} file {path} is not a checkpoint dictionary: download it again."
        )
    return obj


def _check_state(state: Mapping[str, Tensor], expected: nn.Module, path: Path, what: str) -> None:
    want = {k: tuple(v.shape) for k, v in expected.state_dict().items()}
    missing = sorted(set(want) - set(state))
    wrong = sorted(k for k in want if k in state and tuple(state[k].shape) != want[k])
    if missing or wrong:
        detail = f"missing {missing[:3]}" if missing else f"wrong shape for {wrong[:3]}"
        raise CorruptModelFileError(
            f"The {what} file {path} does not hold the weights its own settings describe ({detail}). "
            "It is damaged or a different model: download it again."
        )


def load_whisper_encoder_state(path: str | Path) -> tuple[dict[str, int], dict[str, Tensor]]:
    """Read an openai-whisper checkpoint (``{'dims', 'model_state_dict'}``) → (dims, encoder state).

    Only the encoder's tensors are kept, under our names (the ``encoder.`` prefix removed); the
    file's dtype (fp16 for large-v3.pt) is kept too.
    """
    what = "Whisper speech encoder (large-v3.pt)"
    checkpoint = _torch_load(path, what)
    dims, weights = checkpoint.get("dims"), checkpoint.get("model_state_dict")
    if not isinstance(dims, dict) or not isinstance(weights, dict):
        raise CorruptModelFileError(
            f"The {what} file {path} is not an openai-whisper checkpoint (no 'dims' / 'model_state_dict'): "
            "use large-v3.pt from THUdyh/Ola_speech_encoders."
        )
    try:
        with torch.device("meta"):
            expected = WhisperEncoder.from_dims(dims)
    except (KeyError, TypeError) as error:
        raise CorruptModelFileError(f"The {what} file {path} has unusable 'dims' ({error}).") from error
    state = {k.removeprefix("encoder."): v for k, v in weights.items() if k.startswith("encoder.")}
    _check_state(state, expected, Path(path), what)
    return dict(dims), state


def load_beats_state(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Read a BEATs checkpoint (``{'cfg', 'model'}``) → (cfg, state), tensors as stored (fp32)."""
    what = "BEATs audio encoder"
    checkpoint = _torch_load(path, what)
    cfg, state = checkpoint.get("cfg"), checkpoint.get("model")
    if not isinstance(cfg, dict) or not isinstance(state, dict):
        raise CorruptModelFileError(
            f"The {what} file {path} is not a BEATs checkpoint (no 'cfg' / 'model'): use "
            "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt from THUdyh/Ola_speech_encoders."
        )
    try:
        with torch.device("meta"):
            expected = Beats.from_cfg(cfg)
    except (TypeError, ValueError) as error:
        raise CorruptModelFileError(f"The {what} file {path} has an unusable 'cfg' ({error}).") from error
    _check_state(state, expected, Path(path), what)
    return dict(cfg), dict(state)


def _randomize(
    tensors: Mapping[str, Tensor], generator: torch.Generator, dtype: torch.dtype
) -> dict[str, Tensor]:
    """Random values with sensible scales: matrices ~ N(0, 1/fan_in), norms ≈ 1, biases small.

    Sensible scales keep activations O(1) through the toy encoders, so reference comparisons test
    real arithmetic rather than saturated or vanishing values. Each tensor is cast to ``dtype``
    as soon as it is drawn, so a full-size file never needs a full fp32 copy in memory.
    """
    out = {}
    for name, t in tensors.items():
        noise = torch.randn(t.shape, generator=generator)
        if t.ndim >= 2 and not name.endswith(("weight_g", "grep_a")):
            value = noise * (t[0].numel() ** -0.5)
        elif name.endswith(("ln.weight", "layer_norm.weight", "ln_post.weight", "weight_g", "grep_a")):
            value = 1.0 + 0.1 * noise
        else:
            value = 0.1 * noise
        out[name] = value.to(dtype)
    return out


def _whisper_decoder_shapes(dims: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
    """The openai-whisper decoder's tensor shapes (``decoder.*``), for complete toy checkpoints."""
    c, ctx = dims["n_text_state"], dims["n_text_ctx"]
    shapes: dict[str, tuple[int, ...]] = {
        "decoder.positional_embedding": (ctx, c),
        "decoder.token_embedding.weight": (dims["n_vocab"], c),
    }
    for i in range(dims["n_text_layer"]):
        block = f"decoder.blocks.{i}"
        for attn in ("attn", "cross_attn"):
            for proj in ("query", "key", "value", "out"):
                shapes[f"{block}.{attn}.{proj}.weight"] = (c, c)
                if proj != "key":
                    shapes[f"{block}.{attn}.{proj}.bias"] = (c,)
        for ln in ("attn_ln", "cross_attn_ln", "mlp_ln"):
            shapes[f"{block}.{ln}.weight"] = shapes[f"{block}.{ln}.bias"] = (c,)
        shapes[f"{block}.mlp.0.weight"], shapes[f"{block}.mlp.0.bias"] = (4 * c, c), (4 * c,)
        shapes[f"{block}.mlp.2.weight"], shapes[f"{block}.mlp.2.bias"] = (c, 4 * c), (c,)
    shapes["decoder.ln.weight"] = shapes["decoder.ln.bias"] = (c,)
    return shapes


def write_tiny_whisper_file(
    path: str | Path, seed: int = 0, dims: Mapping[str, int] = TINY_WHISPER_DIMS
) -> Path:
    """Write a random openai-whisper checkpoint in large-v3.pt's format (fp16, decoder included).

    ``dims=WHISPER_LARGE_V3_DIMS`` writes a full-size file (3 GB, like the real one).
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        encoder = WhisperEncoder.from_dims(dims)
    params: dict[str, Tensor] = {f"encoder.{k}": v for k, v in encoder.named_parameters()}
    params |= {k: torch.empty(shape, device="meta") for k, shape in _whisper_decoder_shapes(dims).items()}
    state = _randomize(params, generator, torch.float16)
    # The encoder's position table is the fixed sinusoid table in the real file too.
    state["encoder.positional_embedding"] = sinusoids(dims["n_audio_ctx"], dims["n_audio_state"]).half()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dict(dims), "model_state_dict": state}, path)
    return path


def write_tiny_beats_file(path: str | Path, seed: int = 0, cfg: Mapping[str, Any] = TINY_BEATS_CFG) -> Path:
    """Write a random BEATs checkpoint in the official ``{'cfg', 'model'}`` format (fp32).

    ``cfg=BEATS_AS2M_CPT2_CFG`` writes a full-size file.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        beats = Beats.from_cfg(cfg)
    state = _randomize(beats.state_dict(), generator, torch.float32)
    # The relative position table is one tensor listed under every layer: keep it one tensor.
    shared = [k for k in state if k.endswith("self_attn.relative_attention_bias.weight")]
    for key in shared[1:]:
        state[key] = state[shared[0]]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"cfg": dict(cfg), "model": state}, path)
    return path
