"""Kaldi ``compute-fbank-feats`` as BEATs (and CosyVoice's speaker encoder) hear audio.

It sits beside Whisper's log-mel (``ola_core.processing.audio``): both turn 16 kHz samples into
features, in fp32, exactly as the reference implementations do (torchaudio's kaldi-compatible
code here, bit for bit).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ola_core.processing.audio import SAMPLE_RATE

# kaldi's log floor: numeric_limits<float>::epsilon().
_KALDI_EPSILON = torch.finfo(torch.float32).eps


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
