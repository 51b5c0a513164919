"""OryxViT: SigLIP-so400m/16 run at each image's native resolution.

A plain pre-LN ViT (no class token, no final norm, no pooling head: Ola's projector wants the
last block's patch tokens). Native resolution comes from bilinearly resizing the 128×128 grid
of learned position embeddings to each image's patch grid. Several images of different sizes
run as one sequence with block-diagonal attention (each image attends only to itself), which
is what the official code does with flash-attn's varlen kernel; here it is PyTorch SDPA, so it
runs on CPU and GPU alike. Module and parameter names equal the official checkpoint's keys
(``pos_embed``, ``patch_embed.proj``, ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.model.configuration import OlaConfig

PATCH_SIZE = 16
POS_GRID = 128  # the position-embedding grid: img_size 2048 / patch 16
MLP_RATIO = 3.7362  # SigLIP-so400m: 1152 → int(1152·3.7362) = 4304
LAYER_NORM_EPS = 1e-6


class PatchEmbed(nn.Module):
    """16×16 patches → tokens with a strided convolution (bias, no norm)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=PATCH_SIZE, stride=PATCH_SIZE)

    def forward(self, pixels: Tensor) -> Tensor:  # (B, 3, H, W) -> (B, H/16·W/16, C)
        return self.proj(pixels).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = width // num_heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:  # (B, N, C), mask (N, N) bool or None
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.head_dim**-0.5)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()  # exact (erf), as SigLIP was trained
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.attn = Attention(width, num_heads)
        self.norm2 = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(width, int(width * MLP_RATIO))

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class OryxViT(nn.Module):
    """The SigLIP-so400m/16 trunk with native-resolution position embeddings."""

    def __init__(self, width: int, depth: int, num_heads: int) -> None:
        super().__init__()
        self.width = width
        self.patch_embed = PatchEmbed(width)
        self.pos_embed = nn.Parameter(torch.zeros(1, POS_GRID * POS_GRID, width))
        self.blocks = nn.ModuleList(Block(width, num_heads) for _ in range(depth))

    def position_embedding(self, h: int, w: int) -> Tensor:  # -> (1, h·w, C)
        """The 128×128 learned grid resized bilinearly (no corner alignment) to an h×w patch grid."""
        if (h, w) == (POS_GRID, POS_GRID):
            return self.pos_embed
        grid = self.pos_embed[0].T.reshape(1, self.width, POS_GRID, POS_GRID)
        grid = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)
        return grid.reshape(self.width, h * w).T.unsqueeze(0)

    def _embed(self, pixels: Tensor) -> tuple[Tensor, tuple[int, int]]:  # (B,3,H,W) -> (B, h·w, C)
        h, w = pixels.shape[-2] // PATCH_SIZE, pixels.shape[-1] // PATCH_SIZE
        return self.patch_embed(pixels) + self.position_embedding(h, w), (h, w)

    def forward_batch(self, pixels: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """Same-size images (e.g. the frames of one video) as a batch: (B, 3, H, W) -> (B, h·w, C)."""
        x, size = self._embed(pixels.to(self.pos_embed.dtype))
        for block in self.blocks:
            x = block(x, None)
        return x, size

    def forward_list(self, images: Sequence[Tensor]) -> tuple[list[Tensor], list[tuple[int, int]]]:
        """Images of different sizes, each (3, H, W), as one block-diagonal sequence.

        Returns per image its features (h·w, C) and patch grid (h, w). Sides are zero-padded
        right/bottom to a multiple of 16, as the official list path does.
        """
        tokens: list[Tensor] = []
        sizes: list[tuple[int, int]] = []
        for image in images:
            pad_h, pad_w = -image.shape[-2] % PATCH_SIZE, -image.shape[-1] % PATCH_SIZE
            padded = F.pad(image.to(self.pos_embed.dtype), (0, pad_w, 0, pad_h))
            x, size = self._embed(padded.unsqueeze(0))
            tokens.append(x[0])
            sizes.append(size)
        lengths = [t.shape[0] for t in tokens]
        x = torch.cat(tokens).unsqueeze(0)  # (1, ΣN, C)
        mask = _block_diagonal_mask(lengths, x.device) if len(lengths) > 1 else None
        for block in self.blocks:
            x = block(x, mask)
        return list(x[0].split(lengths)), sizes


def _block_diagonal_mask(lengths: Sequence[int], device: torch.device) -> Tensor:  # (ΣN, ΣN) bool
    segment = torch.repeat_interleave(
        torch.arange(len(lengths), device=device), torch.tensor(lengths, device=device)
    )
    return segment[:, None] == segment[None, :]


class VisionTower(nn.Module):
    """The official wrapper's place in the module tree (``vision_tower.vision_tower.*`` keys).

    It never needs gradients: the tower was frozen in training and runs under ``no_grad``.
    """

    def __init__(self, config: OlaConfig) -> None:
        super().__init__()
        self.vision_tower = OryxViT(config.mm_hidden_size, config.vision_num_layers, config.vision_num_heads)

    @property
    def dtype(self) -> torch.dtype:
        return self.vision_tower.pos_embed.dtype

    @torch.no_grad()
    def forward_list(self, images: Sequence[Tensor]) -> tuple[list[Tensor], list[tuple[int, int]]]:
        return self.vision_tower.forward_list(images)

    @torch.no_grad()
    def forward_batch(self, pixels: Tensor) -> tuple[Tensor, tuple[int, int]]:
        return self.vision_tower.forward_batch(pixels)
