"""The two projectors: encoder features → LLM embeddings, with layout markers.

The vision projector ``ola_mlp``: each view's patch grid (h, w) is projected to the LLM width, pooled 2×2 by the local-global
attention pooler (``NormalizedDwPooler``) to (h/2, w/2), and laid out row by row with a learned
``image_newline`` after each row, so the LLM sees the 2-D shape. Learned ``image_begin``,
``image_sep`` (between views, or after each video frame) and ``image_end`` frame the item.

The speech projector ``SpeechProjector`` (the official ``EncoderProjectorConcat``) turns the
dual speech encoder's frames (:mod:`ola_core.model.dual_encoder`) into LLM embeddings: 10
frames → one token, a learned newline per 30 s chunk, begin/end per clip.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.model.configuration import OlaConfig

PROJECTOR_HIDDEN = 2048  # width of the speech projector's inner layer (hard-coded officially)


class NormalizedDwPooler(nn.Module):
    """2×2 pooling whose weights are predicted per channel from each patch and the local mean.

    Each 2×2 neighbourhood's four tokens are scored from ``[token, mean of the four]``; a softmax
    over the four positions (separately for every channel) gives the mixing weights.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.predictor = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, x: Tensor) -> Tensor:  # (B, H, W, C) with even H, W -> (B, H/2, W/2, C)
        b, h, w, c = x.shape
        groups = (
            x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4, c)
        )
        local_mean = groups.mean(-2, keepdim=True).expand(-1, -1, -1, 4, -1)
        score = self.predictor(torch.cat([groups, local_mean], dim=-1))
        return (groups * F.softmax(score, dim=-2)).sum(dim=-2)


class OlaMLP(nn.Module):
    """``ola_mlp``: proj1 → pooler → GELU → proj2 per view, then newline/begin/sep/end markers."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.proj1 = nn.Linear(in_dim, out_dim)
        self.proj2 = nn.Linear(out_dim, out_dim)
        self.act = nn.GELU()
        self.pooler = NormalizedDwPooler(out_dim)
        std = 1 / math.sqrt(out_dim)
        self.image_newline = nn.Parameter(torch.randn(out_dim) * std)
        self.image_begin = nn.Parameter(torch.randn(out_dim) * std)
        self.image_end = nn.Parameter(torch.randn(out_dim) * std)
        self.image_sep = nn.Parameter(torch.randn(out_dim) * std)

    def _project_grid(self, features: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, h·w, C_vit) → (B, h/2·(w/2 + 1), D): pooled rows, each followed by image_newline."""
        h, w = size
        x = self.proj2(self.act(self.pooler(self.proj1(features.reshape(features.shape[0], h, w, -1)))))
        b, rows, cols, d = x.shape
        newline = self.image_newline.to(x.dtype).expand(b, rows, 1, d)
        return torch.cat([x, newline], dim=2).reshape(b, rows * (cols + 1), d)

    def _marker(self, marker: Tensor, like: Tensor) -> Tensor:  # -> (1, D)
        return marker.to(like.dtype).reshape(1, -1)

    def forward_image(
        self, lowres: Tensor, lowres_size: tuple[int, int], highres: Tensor, highres_size: tuple[int, int]
    ) -> Tensor:
        """One image, two views of features (h·w, C) → (3 + h1(w1+1) + h2(w2+1), D) embeddings."""
        low = self._project_grid(lowres.unsqueeze(0), lowres_size)[0]
        high = self._project_grid(highres.unsqueeze(0), highres_size)[0]
        return torch.cat(
            [
                self._marker(self.image_begin, low),
                low,
                self._marker(self.image_sep, low),
                high,
                self._marker(self.image_end, low),
            ]
        )

    def forward_video(self, frames: Tensor, size: tuple[int, int]) -> Tensor:
        """All frames' features (T, h·w, C) → (2 + T·(h(w+1) + 1), D): each frame then image_sep."""
        x = self._project_grid(frames, size)  # (T, n, D)
        sep = self.image_sep.to(x.dtype).expand(x.shape[0], 1, x.shape[-1])
        x = torch.cat([x, sep], dim=1).flatten(0, 1)
        return torch.cat([self._marker(self.image_begin, x), x, self._marker(self.image_end, x)])


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
