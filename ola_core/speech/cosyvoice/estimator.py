"""Conditional flow matching: the causal U-Net that predicts the velocity, and the Euler solver.

The mel is produced by integrating dx/dt = v(x, t | mu, speaker, prompt mel) from Gaussian noise
(t=0) to the mel (t=1) in 10 Euler steps on a cosine time grid, with classifier-free guidance
(v = (1+w)·v_cond − w·v_uncond, w = 0.7): both branches run as one batch of two.

The estimator is a one-level 1-D U-Net: a residual conv block (causal convs, LayerNorm, Mish,
plus the time embedding) and transformer blocks per stage, down → mid × N → up with a skip
connection. Every conv is causal (left padding) and, in streaming mode, attention is limited to
chunks of 50 frames, so frames of a finished chunk do not depend on later frames — the same
property as the token encoder. The starting noise is one fixed table (seeded 0, as upstream), cut
to the sequence length, so a prefix and its extension start from the same noise.

Parameter names follow the official ``flow.pt`` (``decoder.estimator.down_blocks.0.0.block1`` …).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.speech.cosyvoice.encoder import chunk_mask

__all__ = ["FlowMatching", "VelocityEstimator"]

NOISE_FRAMES = 50 * 300  # 5 minutes of mel frames: the longest utterance the fixed noise covers


class _CausalConv(nn.Conv1d):
    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (self.kernel_size[0] - 1, 0)))


class _ConvNormMish(nn.Module):
    """Causal conv (k=3) → LayerNorm over channels → Mish, masked before and after."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        # indexes 0 and 2 match the official Sequential(conv, transpose, norm, transpose, mish)
        self.block = nn.ModuleDict({"0": _CausalConv(dim_in, dim_out, 3), "2": nn.LayerNorm(dim_out)})

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.block["0"](x * mask)
        h = self.block["2"](h.transpose(1, 2)).transpose(1, 2)
        return F.mish(h) * mask


class _ResnetBlock(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, time_dim: int) -> None:
        super().__init__()
        self.mlp = nn.ModuleDict({"1": nn.Linear(time_dim, dim_out)})
        self.block1 = _ConvNormMish(dim_in, dim_out)
        self.block2 = _ConvNormMish(dim_out, dim_out)
        self.res_conv = nn.Conv1d(dim_in, dim_out, 1)

    def forward(self, x: Tensor, mask: Tensor, time: Tensor) -> Tensor:
        h = self.block1(x, mask) + self.mlp["1"](F.mish(time)).unsqueeze(-1)
        return self.block2(h, mask) + self.res_conv(x * mask)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim)])

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        # x (B, T, C); bias (B|1, T, T) additive
        batch, length, _ = x.shape

        def heads(t: Tensor) -> Tensor:
            return t.view(batch, length, self.heads, -1).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(self.to_q(x)), heads(self.to_k(x)), heads(self.to_v(x)), attn_mask=bias.unsqueeze(1)
        )
        return self.to_out[0](out.transpose(1, 2).reshape(batch, length, -1))


class _GeluProjection(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, hidden)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.proj(x))


class _FeedForward(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        # keys "0" and "2" match the official ModuleList(GELU-projection, dropout, linear)
        self.net = nn.ModuleDict({"0": _GeluProjection(dim, 4 * dim), "2": nn.Linear(4 * dim, dim)})

    def forward(self, x: Tensor) -> Tensor:
        return self.net["2"](self.net["0"](x))


class _TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = _Attention(dim, heads, head_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = _FeedForward(dim)

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        x = x + self.attn1(self.norm1(x), bias)
        return x + self.ff(self.norm3(x))


class _Stage(nn.ModuleList):
    """[resnet, [transformer blocks], optional causal conv]: one U-Net stage, indexed as in flow.pt."""

    def __init__(
        self, resnet: _ResnetBlock, transformers: list[_TransformerBlock], tail: nn.Module | None
    ) -> None:
        super().__init__([resnet, nn.ModuleList(transformers), *([tail] if tail is not None else [])])

    def body(self, h: Tensor, mask: Tensor, time: Tensor, bias: Tensor) -> Tensor:
        """(B, C_in, T) -> (B, C, T): the residual block, then attention over time."""
        x = self[0](h, mask, time).transpose(1, 2)
        for block in cast(nn.ModuleList, self[1]):
            x = block(x, bias)
        return x.transpose(1, 2)

    def tail(self, h: Tensor) -> Tensor:
        return self[2](h)


class VelocityEstimator(nn.Module):
    """v(x, t | mu, spk, cond): (B, 80, T) each -> (B, 80, T)."""

    def __init__(
        self,
        mel_bins: int,
        channels: int,
        heads: int,
        head_dim: int,
        blocks: int,
        mid_blocks: int,
        chunk: int,
    ) -> None:
        super().__init__()
        in_channels = 4 * mel_bins  # x, mu, speaker, prompt mel stacked
        time_dim = 4 * channels
        self.in_channels = in_channels
        self.chunk = chunk  # frames
        self.time_mlp = nn.ModuleDict(
            {"linear_1": nn.Linear(in_channels, time_dim), "linear_2": nn.Linear(time_dim, time_dim)}
        )

        def transformers() -> list[_TransformerBlock]:
            return [_TransformerBlock(channels, heads, head_dim) for _ in range(blocks)]

        self.down_blocks = nn.ModuleList(
            [
                _Stage(
                    _ResnetBlock(in_channels, channels, time_dim),
                    transformers(),
                    _CausalConv(channels, channels, 3),
                )
            ]
        )
        self.mid_blocks = nn.ModuleList(
            [
                _Stage(_ResnetBlock(channels, channels, time_dim), transformers(), None)
                for _ in range(mid_blocks)
            ]
        )
        self.up_blocks = nn.ModuleList(
            [
                _Stage(
                    _ResnetBlock(2 * channels, channels, time_dim),
                    transformers(),
                    _CausalConv(channels, channels, 3),
                )
            ]
        )
        self.final_block = _ConvNormMish(channels, channels)
        self.final_proj = nn.Conv1d(channels, mel_bins, 1)

    def time_embedding(self, t: Tensor) -> Tensor:
        """(B,) times in [0, 1] -> (B, 4*channels): sinusoids (scale 1000) through a SiLU MLP."""
        half = self.in_channels // 2
        frequencies = torch.exp(torch.arange(half, device=t.device).float() * -(math.log(10000) / (half - 1)))
        angles = 1000 * t.float().unsqueeze(1) * frequencies.unsqueeze(0)
        sinusoids = torch.cat([angles.sin(), angles.cos()], dim=-1).to(t.dtype)
        return self.time_mlp["linear_2"](F.silu(self.time_mlp["linear_1"](sinusoids)))

    def forward(
        self, x: Tensor, mask: Tensor, mu: Tensor, t: Tensor, spks: Tensor, cond: Tensor, streaming: bool
    ) -> Tensor:
        # x, mu, cond (B, 80, T); mask (B, 1, T); t (B,); spks (B, 80)
        time = self.time_embedding(t)
        h = torch.cat([x, mu, spks.unsqueeze(-1).expand(-1, -1, x.size(-1)), cond], dim=1)
        bias = self._attention_bias(mask, streaming)
        down, up = cast(_Stage, self.down_blocks[0]), cast(_Stage, self.up_blocks[0])
        h = down.body(h, mask, time, bias)
        skip = h
        h = down.tail(h * mask)
        for middle in self.mid_blocks:
            h = cast(_Stage, middle).body(h, mask, time, bias)
        h = up.body(torch.cat([h[:, :, : skip.size(-1)], skip], dim=1), mask, time, bias)
        h = up.tail(h * mask)
        h = self.final_block(h, mask)
        return self.final_proj(h * mask) * mask

    def _attention_bias(self, mask: Tensor, streaming: bool) -> Tensor:
        """(B, T, T) additive: 0 where attention is allowed, -1e10 elsewhere (padding, future chunks)."""
        length = mask.size(-1)
        allowed = mask.bool().expand(-1, length, -1)  # (B, T, T): key must be a real frame
        allowed = allowed & chunk_mask(length, self.chunk if streaming else 0, mask.device)
        return (1.0 - allowed.to(mask.dtype)) * -1.0e10


class FlowMatching(nn.Module):
    """Euler integration of the estimator with classifier-free guidance."""

    noise: Tensor  # (1, 80, NOISE_FRAMES) fixed starting noise

    def __init__(
        self, estimator: VelocityEstimator, cfg_rate: float, n_timesteps: int, mel_bins: int
    ) -> None:
        super().__init__()
        self.estimator = estimator
        self.cfg_rate = cfg_rate
        self.n_timesteps = n_timesteps
        generator = torch.Generator().manual_seed(0)  # upstream's fixed noise: seed 0, drawn at init
        self.register_buffer(
            "noise", torch.randn(1, mel_bins, NOISE_FRAMES, generator=generator), persistent=False
        )

    def forward(
        self,
        mu: Tensor,
        spks: Tensor,
        cond: Tensor,
        streaming: bool,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Tensor | None:
        """mu, cond (1, 80, T); spks (1, 80) -> mel (1, 80, T) float32, or None once ``should_stop()``."""
        length = mu.size(2)
        if length > NOISE_FRAMES:
            raise ValueError(f"{length} mel frames is longer than the {NOISE_FRAMES} the decoder supports")
        dtype = spks.dtype
        x = self.noise[:, :, :length].to(mu.device, dtype)
        grid = 1 - torch.cos(
            torch.linspace(0, 1, self.n_timesteps + 1, device=mu.device, dtype=dtype) * 0.5 * torch.pi
        )
        mask = torch.ones(2, 1, length, device=mu.device, dtype=dtype)
        mu_in = torch.cat([mu, torch.zeros_like(mu)]).to(dtype)
        spks_in = torch.cat([spks, torch.zeros_like(spks)]).to(dtype)
        cond_in = torch.cat([cond, torch.zeros_like(cond)]).to(dtype)
        t, dt = grid[0], grid[1] - grid[0]
        for step in range(1, len(grid)):
            if should_stop():
                return None
            velocity = self.estimator(
                torch.cat([x, x]), mask, mu_in, t.expand(2), spks_in, cond_in, streaming
            )
            conditional, unconditional = velocity.chunk(2)
            x = x + dt * ((1.0 + self.cfg_rate) * conditional - self.cfg_rate * unconditional)
            t = t + dt
            if step < len(grid) - 1:
                dt = grid[step + 1] - t
        return x.float()
