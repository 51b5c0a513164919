"""Whisper-large-v3's audio encoder, the speech-content half of Ola's dual speech encoder.

Ola hears a clip as 30 s chunks; Whisper turns each chunk's 3000 log-mel frames
(``ola_core.processing.audio``) into 1500 frames of 20 ms. Its weights come from the official
openai-whisper ``large-v3.pt`` (fp16), read by :mod:`ola_core.model.encoder_files`.

Numerics follow the official code (Ola-Omni/Ola @ f681820, docs/official-ola.md §1.5): the
LayerNorms run in the input dtype (the official code swaps openai-whisper's fp32-upcasting
LayerNorm for a plain one); attention is SDPA, as in openai-whisper 20250625.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> Tensor:
    """Whisper's fixed sinusoidal position table (length, channels): sines, then cosines."""
    log_timescale_increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


class AttentionProjections(nn.Module):
    """Whisper's four attention projections (the key has no bias) and its head split; the encoder's
    attention below and the decoder's (``whisper_decoder.CachedAttention``) share them."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def heads(self, y: Tensor) -> Tensor:
        """(n, T, C) -> (n, H, T, C/H)."""
        n, t, c = y.shape
        return y.view(n, t, self.n_head, c // self.n_head).transpose(1, 2)


class WhisperAttention(AttentionProjections):
    """Non-causal multi-head self-attention over the audio frames."""

    def forward(self, x: Tensor) -> Tensor:
        n, t, c = x.shape  # (n, T, C)
        a = F.scaled_dot_product_attention(
            self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        )
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
