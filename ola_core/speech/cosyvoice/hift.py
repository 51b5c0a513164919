"""HiFT vocoder: mel (50 Hz) → 24 kHz waveform with a neural source filter and an inverse STFT.

An F0 predictor (5 convs + linear) estimates pitch per mel frame; a harmonic sine source at that
pitch (fundamental + 8 overtones, noise where unvoiced) is merged into one excitation signal.
The generator upsamples the mel ×120 with transposed convolutions, mixing in the excitation's
STFT at every scale, and predicts magnitude and phase of a 16-point STFT whose inverse (hop 4)
gives the final ×4. Weight-normalised convolutions of the official file are folded into plain
weights at load time (:func:`ola_core.speech.cosyvoice.loading.fold_weight_norm`).

Randomness (the sine phases and the excitation noise) is drawn from a caller-provided
``torch.Generator`` in the same order as upstream (phases, then noise), so a seeded call
reproduces upstream exactly and the runtime's output is repeatable.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.speech.cosyvoice.config import HiftConfig

__all__ = ["HiftVocoder"]


class _Snake(nn.Module):
    """x + sin²(αx)/α per channel (periodic activation for waveforms)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        alpha = self.alpha.view(1, -1, 1)
        return x + (1.0 / (alpha + 1e-9)) * torch.sin(x * alpha).pow(2)


class _ResBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            [
                nn.Conv1d(channels, channels, kernel, dilation=d, padding=(kernel * d - d) // 2)
                for d in dilations
            ]
        )
        self.convs2 = nn.ModuleList(
            [nn.Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2) for _ in dilations]
        )
        self.activations1 = nn.ModuleList([_Snake(channels) for _ in dilations])
        self.activations2 = nn.ModuleList([_Snake(channels) for _ in dilations])

    def forward(self, x: Tensor) -> Tensor:
        for conv1, conv2, act1, act2 in zip(
            self.convs1, self.convs2, self.activations1, self.activations2, strict=True
        ):
            x = x + conv2(act2(conv1(act1(x))))
        return x


class _F0Predictor(nn.Module):
    def __init__(self, mel_bins: int, channels: int) -> None:
        super().__init__()
        convs = [nn.Conv1d(mel_bins if i == 0 else channels, channels, 3, padding=1) for i in range(5)]
        # even indexes, as in the official Sequential(conv, ELU, conv, ELU, …)
        self.condnet = nn.ModuleDict({str(2 * i): conv for i, conv in enumerate(convs)})
        self.classifier = nn.Linear(channels, 1)

    def forward(self, mel: Tensor) -> Tensor:
        # mel (B, 80, T) -> f0 (B, T) Hz, non-negative
        x = mel
        for conv in self.condnet.values():
            x = F.elu(conv(x))
        return self.classifier(x.transpose(1, 2)).squeeze(-1).abs()


class _HarmonicSource(nn.Module):
    """F0 per sample -> one excitation signal: tanh(linear(sines of the harmonics + noise))."""

    def __init__(self, config: HiftConfig) -> None:
        super().__init__()
        self.harmonics = config.nb_harmonics + 1
        self.sample_rate = config.sample_rate
        self.upsample = config.samples_per_frame
        self.amplitude = config.nsf_alpha
        self.noise_std = config.nsf_sigma
        self.threshold = config.nsf_voiced_threshold
        self.l_linear = nn.Linear(self.harmonics, 1)

    def forward(self, f0: Tensor, generator: torch.Generator | None) -> Tensor:
        # f0 (B, L, 1) per sample -> (B, L, 1)
        batch = f0.size(0)
        multiples = torch.arange(1, self.harmonics + 1, device=f0.device, dtype=f0.dtype)
        cycles = (f0 * multiples / self.sample_rate) % 1  # (B, L, H) cycles per sample
        phase0 = torch.rand(batch, self.harmonics, generator=generator).to(f0.device)
        phase0[:, 0] = 0  # the fundamental starts at phase 0, overtones at random phases
        cycles[:, 0, :] = cycles[:, 0, :] + phase0
        # Integrate at frame rate, then interpolate back: cheap and smooth across the frame.
        per_frame = F.interpolate(cycles.transpose(1, 2), scale_factor=1 / self.upsample, mode="linear")
        phase = torch.cumsum(per_frame, dim=2) * 2 * math.pi
        phase = F.interpolate(phase * self.upsample, scale_factor=self.upsample, mode="linear").transpose(
            1, 2
        )
        sines = torch.sin(phase) * self.amplitude
        voiced = (f0 > self.threshold).to(sines.dtype)
        noise_amplitude = voiced * self.noise_std + (1 - voiced) * self.amplitude / 3
        # Filled with the same (B, H, L)-major strides as upstream's randn_like on its transposed tensor.
        noise = torch.empty(batch, self.harmonics, sines.size(1)).transpose(1, 2).normal_(generator=generator)
        noise = noise.to(sines.device) * noise_amplitude
        # Upstream also draws a (B, L, 1) noise it does not use; drawing it too keeps a seeded
        # generator in step with upstream chunk after chunk (tests compare streams sample by sample).
        torch.randn(voiced.shape, generator=generator)
        return torch.tanh(self.l_linear(sines * voiced + noise))


class HiftVocoder(nn.Module):
    """mel (1, 80, T) -> waveform (1, T*480) in [-audio_limit, audio_limit]."""

    window: Tensor  # (n_fft,) periodic Hann

    def __init__(self, config: HiftConfig) -> None:
        super().__init__()
        self.config = config
        base, n_fft = config.base_channels, config.n_fft
        self.m_source = _HarmonicSource(config)
        self.f0_predictor = _F0Predictor(config.mel_bins, config.f0_cond_channels)
        self.conv_pre = nn.Conv1d(config.mel_bins, base, 7, padding=3)
        self.ups = nn.ModuleList(
            [
                nn.ConvTranspose1d(base // 2**i, base // 2 ** (i + 1), k, u, padding=(k - u) // 2)
                for i, (u, k) in enumerate(
                    zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
                )
            ]
        )
        # The excitation's STFT enters every scale, strided down to that scale's rate.
        rates = config.upsample_rates
        down = [math.prod(rates[i + 1 :]) for i in range(len(rates))]  # 15, 3, 1
        self.source_downs = nn.ModuleList()
        self.source_resblocks = nn.ModuleList()
        for i, (stride, kernel, dilations) in enumerate(
            zip(down, config.source_resblock_kernel_sizes, config.source_resblock_dilation_sizes, strict=True)
        ):
            channels = base // 2 ** (i + 1)
            self.source_downs.append(
                nn.Conv1d(n_fft + 2, channels, 1)
                if stride == 1
                else nn.Conv1d(n_fft + 2, channels, stride * 2, stride, padding=stride // 2)
            )
            self.source_resblocks.append(_ResBlock(channels, kernel, dilations))
        self.resblocks = nn.ModuleList(
            [
                _ResBlock(base // 2 ** (i + 1), kernel, dilations)
                for i in range(len(rates))
                for kernel, dilations in zip(
                    config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
                )
            ]
        )
        self.conv_post = nn.Conv1d(base // 2 ** len(rates), n_fft + 2, 7, padding=3)
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)

    def excitation(self, mel: Tensor, generator: torch.Generator | None) -> Tensor:
        """mel (1, 80, T) -> source signal (1, 1, T*480)."""
        f0 = self.f0_predictor(mel)  # (1, T)
        per_sample = F.interpolate(f0[:, None], scale_factor=float(self.config.samples_per_frame))  # nearest
        return self.m_source(per_sample.transpose(1, 2), generator).transpose(1, 2)

    @torch.inference_mode()
    def forward(
        self, mel: Tensor, cached_source: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Returns (waveform (1, n), excitation (1, 1, n)). ``cached_source`` replaces the start of
        the excitation so that a streamed chunk continues the previous chunk's signal."""
        mel = mel.float()
        source = self.excitation(mel, generator)
        if cached_source is not None and cached_source.size(2) > 0:
            source[:, :, : cached_source.size(2)] = cached_source
        return self._generate(mel, source), source

    def _generate(self, mel: Tensor, source: Tensor) -> Tensor:
        config = self.config
        spectrum = torch.stft(
            source.squeeze(1),
            config.n_fft,
            config.hop_len,
            config.n_fft,
            window=self.window,
            return_complex=True,
        )
        source_stft = torch.cat([spectrum.real, spectrum.imag], dim=1)  # (1, n_fft+2, frames)
        x = self.conv_pre(mel)
        kernels = len(config.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, config.lrelu_slope))
            if i == len(self.ups) - 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + self.source_resblocks[i](self.source_downs[i](source_stft))
            x = sum(self.resblocks[i * kernels + j](x) for j in range(kernels)) / kernels
        x = self.conv_post(F.leaky_relu(x))
        half = config.n_fft // 2 + 1
        magnitude = torch.exp(x[:, :half]).clamp(max=1e2)
        phase = torch.sin(x[:, half:])
        waveform = torch.istft(
            torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase)),
            config.n_fft,
            config.hop_len,
            config.n_fft,
            window=self.window,
        )
        return waveform.clamp(-config.audio_limit, config.audio_limit)
