"""The flow decoder's token encoder: a chunk-causal Conformer that upsamples tokens to mel frames.

Speech tokens (25 Hz) go through: a linear embedding, a "pre-lookahead" convolution that lets each
token see the next 3 tokens, N self-attention blocks with relative positions, a ×2 nearest
upsampling with a causal convolution (now one vector per 50 Hz mel frame), 4 more blocks, a final
LayerNorm. In streaming mode attention is restricted to chunks: position i sees every position
before the end of its own chunk (25 tokens, or 50 frames after the upsampling), so the encoding
of a finished chunk never changes when more tokens arrive. That property is what lets the
runtime decode a growing token prefix and keep the frames it already emitted.

Parameter names follow the official ``flow.pt`` (``encoder.encoders.0.self_attn.linear_q`` …) so
the file loads without a key map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TokenEncoder", "chunk_mask"]


def chunk_mask(length: int, chunk: int, device: torch.device) -> Tensor:
    """(length, length) bool: query i may attend key j iff j < (i // chunk + 1) * chunk; chunk 0: all."""
    if chunk <= 0:
        return torch.ones(length, length, dtype=torch.bool, device=device)
    positions = torch.arange(length, device=device)
    limits = (positions // chunk + 1) * chunk
    return positions.unsqueeze(0) < limits.unsqueeze(1)


def relative_positions(length: int, dim: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(1, 2*length-1, dim) sinusoids for relative distances length-1 … -(length-1) (Transformer-XL)."""
    distance = torch.arange(length - 1, -length, -1, device=device, dtype=torch.float32).unsqueeze(1)
    frequencies = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * -(math.log(10000.0) / dim)
    )
    table = torch.zeros(2 * length - 1, dim, device=device)
    table[:, 0::2] = torch.sin(distance * frequencies)
    table[:, 1::2] = torch.cos(distance * frequencies)
    return table.unsqueeze(0).to(dtype)


class _LinearEmbed(nn.Module):
    """Linear + LayerNorm, then the √d scaling that relative-position Conformers apply to inputs."""

    def __init__(self, dim_in: int, dim: int) -> None:
        super().__init__()
        self.out = nn.Sequential(nn.Linear(dim_in, dim), nn.LayerNorm(dim, eps=1e-5))
        self.scale = math.sqrt(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(x) * self.scale


class _RelPosSelfAttention(nn.Module):
    """Multi-head self-attention with learned content (u) and position (v) biases."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k = nn.Linear(dim, dim)
        self.linear_v = nn.Linear(dim, dim)
        self.linear_out = nn.Linear(dim, dim)
        self.linear_pos = nn.Linear(dim, dim, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(heads, self.head_dim))
        self.pos_bias_v = nn.Parameter(torch.zeros(heads, self.head_dim))

    def forward(self, x: Tensor, mask: Tensor, positions: Tensor) -> Tensor:
        # x (B, T, D); mask (B|1, T, T) bool; positions (1, 2T-1, D)
        batch, length, _ = x.shape

        def heads(t: Tensor) -> Tensor:  # (B, T, D) -> (B, H, T, d)
            return t.view(t.size(0), -1, self.heads, self.head_dim).transpose(1, 2)

        q = self.linear_q(x).view(batch, length, self.heads, self.head_dim)
        k, v = heads(self.linear_k(x)), heads(self.linear_v(x))
        p = heads(self.linear_pos(positions))  # (1, H, 2T-1, d)
        content = torch.matmul((q + self.pos_bias_u).transpose(1, 2), k.transpose(-2, -1))  # (B, H, T, T)
        position = torch.matmul((q + self.pos_bias_v).transpose(1, 2), p.transpose(-2, -1))  # (B, H, T, 2T-1)
        position = _shift_relative(position)
        scores = (content + position) / math.sqrt(self.head_dim)
        blocked = ~mask.unsqueeze(1)  # (B, 1, T, T)
        weights = torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1).masked_fill(blocked, 0.0)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(batch, length, -1)
        return self.linear_out(out)


def _shift_relative(scores: Tensor) -> Tensor:
    """(B, H, T, 2T-1) scores per relative distance -> (B, H, T, T) scores per key position.

    Row i of the input lists distances T-1 … -(T-1); key j sits at distance i - j, i.e. column
    T-1-i+j. The pad-and-reshape skew does that gather without an index tensor.
    """
    batch, heads, length, width = scores.shape
    padded = F.pad(scores, (1, 0))  # (B, H, T, 2T)
    skewed = padded.view(batch, heads, width + 1, length)[:, :, 1:].reshape(batch, heads, length, width)
    return skewed[:, :, :, : width // 2 + 1]


class _FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(dim, hidden)
        self.w_2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(F.silu(self.w_1(x)))


class _ConformerBlock(nn.Module):
    """Pre-norm attention + feed-forward (the official config has no macaron FF and no conv module)."""

    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.self_attn = _RelPosSelfAttention(dim, heads)
        self.feed_forward = _FeedForward(dim, hidden)
        self.norm_mha = nn.LayerNorm(dim, eps=1e-12)
        self.norm_ff = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x: Tensor, mask: Tensor, positions: Tensor) -> Tensor:
        x = x + self.self_attn(self.norm_mha(x), mask, positions)
        return x + self.feed_forward(self.norm_ff(x))


class _PreLookahead(nn.Module):
    """Each token sees the next ``lookahead`` tokens (conv over [t, t+lookahead]), then a causal conv.

    In streaming the future tokens are not final yet; they come as ``context`` and only shape the
    last frames, which the runtime does not emit until the next hop recomputes them.
    """

    def __init__(self, channels: int, lookahead: int) -> None:
        super().__init__()
        self.lookahead = lookahead
        self.conv1 = nn.Conv1d(channels, channels, kernel_size=lookahead + 1)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        # x (B, T, C); context (B, k<=lookahead, C)
        h = torch.cat([x, context], dim=1).transpose(1, 2)
        h = F.pad(h, (0, self.lookahead - context.size(1)))
        h = F.leaky_relu(self.conv1(h))
        h = self.conv2(F.pad(h, (2, 0)))
        return x + h.transpose(1, 2)


class _Upsample2x(nn.Module):
    """Nearest ×2 then a causal conv (kernel 5, left-padded): frame t sees only frames ≤ t."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size=5)

    def forward(self, x: Tensor) -> Tensor:
        # x (B, C, T) -> (B, C, 2T)
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(F.pad(x, (4, 0)))


class TokenEncoder(nn.Module):
    """Token embeddings (B, T, 512) -> frame encodings (B, 2T, 512)."""

    def __init__(
        self, dim: int, heads: int, hidden: int, blocks: int, up_blocks: int, chunk: int, lookahead: int
    ):
        super().__init__()
        self.chunk = chunk
        self.embed = _LinearEmbed(dim, dim)
        self.pre_lookahead_layer = _PreLookahead(dim, lookahead)
        self.encoders = nn.ModuleList([_ConformerBlock(dim, heads, hidden) for _ in range(blocks)])
        self.up_layer = _Upsample2x(dim)
        self.up_embed = _LinearEmbed(dim, dim)
        self.up_encoders = nn.ModuleList([_ConformerBlock(dim, heads, hidden) for _ in range(up_blocks)])
        self.after_norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, tokens: Tensor, context: Tensor, streaming: bool) -> Tensor:
        # tokens (1, T, D) embedded tokens; context (1, k, D) look-ahead tokens not encoded themselves
        x = self.embed(tokens)
        x = self.pre_lookahead_layer(x, self.embed(context))
        x = self._blocks(self.encoders, x, self.chunk if streaming else 0)
        x = self.up_layer(x.transpose(1, 2)).transpose(1, 2)
        x = self._blocks(self.up_encoders, self.up_embed(x), 2 * self.chunk if streaming else 0)
        return self.after_norm(x)

    def _blocks(self, blocks: nn.ModuleList, x: Tensor, chunk: int) -> Tensor:
        mask = chunk_mask(x.size(1), chunk, x.device).unsqueeze(0)
        positions = relative_positions(x.size(1), x.size(2), x.device, x.dtype)
        for block in blocks:
            x = block(x, mask, positions)
        return x
