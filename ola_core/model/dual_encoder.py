"""Ola's speech encoder: Whisper + BEATs per 30 s chunk, concatenated per frame.

Each chunk goes through two frozen encoders: Whisper's audio encoder (speech content, 1500
frames of 20 ms, :mod:`ola_core.model.whisper`) and BEATs (sounds and music, 1496 frames,
:mod:`ola_core.model.beats`), whose outputs are concatenated per frame (BEATs right-padded with
zeros to 1500). ``SpeechProjector`` (:mod:`ola_core.model.projectors`) then makes 10 frames one
token, so a chunk becomes 150 tokens plus a newline and the clip ``2 + 151·n`` tokens.

Both encoders come from their own official files, not from the Ola safetensors (that is what the
official loader runs). BEATs' weights are those of the file rounded through fp16 and then the
model dtype, because the official loader casts the whole speech encoder to fp16 and then to bf16
before BEATs casts itself back to fp32 (docs/official-ola.md §5.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.errors import CorruptModelFileError, MediaError
from ola_core.model.beats import BEATS_AS2M_CPT2_CFG, Beats
from ola_core.model.configuration import OlaConfig
from ola_core.model.encoder_files import load_beats_state, load_whisper_encoder_state
from ola_core.model.locator import SPEECH_ENCODERS_REPO, WHISPER_FILE_NAME
from ola_core.model.whisper import WHISPER_LARGE_V3_DIMS, WhisperEncoder


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
                f"{config.speech_encoder_hidden_size} (speech_encoder_hidden_size). Use the {WHISPER_FILE_NAME} "
                f"and BEATs files from {SPEECH_ENCODERS_REPO} that belong to this model."
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
        # fp32 as officially (which re-floats BEATs on every call); the 8 GB profile sets bf16.
        beats_dtype = getattr(self, "beats_dtype", torch.float32)
        with torch.no_grad():
            if self.beats_model.patch_embedding.weight.dtype != beats_dtype:
                self.beats_model.to(beats_dtype)
            speech = self.whisper_model(mels.transpose(1, 2))  # (n, 1500, Dw)
            # One chunk at a time: BEATs' (heads, T, T) attention maps are large; results are the same.
            with torch.autocast(wavs.device.type, beats_dtype, enabled=beats_dtype != torch.float32):
                sound = torch.cat([self.beats_model(wav[None]) for wav in wavs]).float()  # (n, 1496, Db)
            length = max(speech.shape[1], sound.shape[1])
            speech = F.pad(speech, (0, 0, 0, length - speech.shape[1]))
            sound = F.pad(sound, (0, 0, 0, length - sound.shape[1]))
            return torch.cat([speech, sound.to(speech.dtype)], dim=-1)


def _official_beats_rounding(weight: Tensor, dtype: torch.dtype) -> Tensor:
    # The official loader casts the whole speech encoder to fp16 (builder.py:71), then the model
    # to ``dtype``; BEATs then casts itself back to fp32 at every call.
    return weight.to(torch.float16).to(dtype).float()
