"""Speech tokens → mel frames: token encoder + conditional flow matching, prompt-conditioned.

The prompt's tokens go in front of the new tokens and the prompt's mel is the condition for the
first frames, so the voice follows the prompt (zero-shot) or only the x-vector (built-in voices,
no prompt). Output: the mel of the new tokens only, 2 frames per token.

Streaming: the runtime calls :meth:`FlowDecoder.mel` on a growing token prefix with
``streaming=True`` (chunk-causal attention everywhere) and keeps only the frames past what it
already emitted; the last ``pre_lookahead_len`` tokens of a non-final prefix are look-ahead
context only, exactly as the model was trained.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.speech.cosyvoice.config import FlowConfig
from ola_core.speech.cosyvoice.encoder import TokenEncoder
from ola_core.speech.cosyvoice.estimator import FlowMatching, VelocityEstimator

__all__ = ["FlowDecoder"]


class FlowDecoder(nn.Module):
    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        self.input_embedding = nn.Embedding(config.vocab_size, config.input_size)
        self.spk_embed_affine_layer = nn.Linear(config.spk_embed_dim, config.mel_bins)
        self.encoder = TokenEncoder(
            dim=config.input_size,
            heads=config.encoder_heads,
            hidden=config.encoder_linear_units,
            blocks=config.encoder_blocks,
            up_blocks=config.encoder_up_blocks,
            chunk=config.chunk_size,
            lookahead=config.pre_lookahead_len,
        )
        self.encoder_proj = nn.Linear(config.input_size, config.mel_bins)
        estimator = VelocityEstimator(
            mel_bins=config.mel_bins,
            channels=config.estimator_channels,
            heads=config.estimator_heads,
            head_dim=config.estimator_head_dim,
            blocks=config.estimator_blocks,
            mid_blocks=config.estimator_mid_blocks,
            chunk=config.chunk_size * config.token_mel_ratio,
        )
        self.decoder = FlowMatching(estimator, config.inference_cfg_rate, config.n_timesteps, config.mel_bins)

    @torch.inference_mode()
    def mel(
        self,
        tokens: Tensor,
        prompt_tokens: Tensor,
        prompt_mel: Tensor,
        speaker: Tensor,
        *,
        streaming: bool,
        finalize: bool,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Tensor | None:
        """tokens (1, T) and prompt_tokens (1, P) int; prompt_mel (1, 2P, 80); speaker (1, 192).

        Returns (1, 80, 2*T') float32 for the new tokens (T' = T, or T - lookahead when not
        ``finalize``), or None when ``should_stop()`` turned true during the ODE steps.
        """
        dtype = self.spk_embed_affine_layer.weight.dtype
        speaker = self.spk_embed_affine_layer(F.normalize(speaker.to(dtype), dim=1))  # (1, 80)
        everything = torch.cat([prompt_tokens, tokens], dim=1).clamp(min=0)
        embedded = self.input_embedding(everything)  # (1, P+T, 512)
        lookahead = 0 if finalize else self.config.pre_lookahead_len
        body, context = (
            embedded[:, : embedded.size(1) - lookahead],
            embedded[:, embedded.size(1) - lookahead :],
        )
        mu = self.encoder_proj(self.encoder(body, context, streaming))  # (1, frames, 80)
        prompt_frames = prompt_mel.size(1)
        cond = torch.zeros(1, mu.size(1), self.config.mel_bins, device=mu.device, dtype=mu.dtype)
        cond[:, :prompt_frames] = prompt_mel.to(mu.dtype)
        mel = self.decoder(mu.transpose(1, 2), speaker, cond.transpose(1, 2), streaming, should_stop)
        return None if mel is None else mel[:, :, prompt_frames:]
