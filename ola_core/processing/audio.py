"""Audio → 16 kHz mono → 30 s chunks → Whisper log-mels + raw chunks, as the official inference.

The official ``load_audio`` (inference/infer.py) does ``librosa.load(path, sr=16000)`` (soundfile
decoding to float32, channel mean, soxr "HQ" resampling, length fixed to ⌈n·16000/sr⌉), cuts the
clip into consecutive 480 000-sample chunks (the last one zero-padded), computes
``whisper.log_mel_spectrogram(chunk, n_mels=128)`` per chunk and keeps the first 25 chunks.
We do the same with our own code: soundfile (or PyAV for containers soundfile cannot read, such
as m4a), python-soxr with the same quality, and the Whisper mel pipeline written out below with
the filter bank computed here (librosa's Slaney formula, checked equal to whisper's bundled
``mel_filters.npz``). The BEATs encoder gets the raw padded chunks.

Unlike the official code we cut the samples *before* computing mels (no work for chunks that are
thrown away) and say so: a warning is logged and :attr:`AudioClip.truncated` is set.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import av
import numpy as np
import soundfile
import soxr
import torch

from ola_core.errors import MediaError
from ola_core.model.inputs import SpeechInput
from ola_core.processing.files import ffmpeg_reason, require_file

logger = logging.getLogger(__name__)

AudioSource: TypeAlias = str | Path | np.ndarray

SAMPLE_RATE = 16_000
CHUNK_SECONDS = 30
CHUNK_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS  # 480 000
MAX_CHUNKS = 25  # the official cap: 12.5 minutes
N_FFT = 400  # 25 ms window
HOP_LENGTH = 160  # 10 ms hop → 3000 frames per chunk
N_MELS = 128  # Whisper large-v3
FRAMES_PER_CHUNK = CHUNK_SAMPLES // HOP_LENGTH  # 3000
RESAMPLE_QUALITY = "soxr_hq"  # librosa.load's default res_type

AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff"}
)


@dataclass(frozen=True)
class AudioClip:
    """A clip ready for the speech encoders, with what a caller needs to tell the user."""

    speech: SpeechInput
    duration_s: float  # of the 16 kHz audio before cutting and padding
    truncated: bool  # True when the clip was longer than MAX_CHUNKS × 30 s and was cut

    @property
    def n_chunks(self) -> int:
        return int(self.speech.mels.shape[0])


# --- decoding ----------------------------------------------------------------------------------
def read_audio_file(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a file into float32 samples (channels, n) at its native rate.

    soundfile first (what librosa.load uses, so wav/flac/ogg/mp3 decode bit-identically to the
    official), PyAV for everything else (m4a, aac, audio in video containers).
    """
    path = require_file(path, "Audio file")
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)  # (n, channels)
        return np.ascontiguousarray(samples.T), int(rate)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        pass  # not a format libsndfile knows: let FFmpeg (PyAV) try
    track = read_audio_track(path)
    if track is None:
        raise MediaError(f"Cannot read audio '{path}': the file has no audio track.")
    return track


def read_audio_track(path: str | Path) -> tuple[np.ndarray, int] | None:
    """The first audio stream of any FFmpeg-readable file as float32 (channels, n), or None if absent."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            # Planar float at the native rate and layout: the same int→float scaling as soundfile.
            converter = av.AudioResampler(format="fltp")
            blocks = []
            rate = 0
            for frame in container.decode(stream):
                for converted in converter.resample(frame):
                    blocks.append(converted.to_ndarray())
                    rate = converted.sample_rate
            for converted in converter.resample(None):  # flush
                blocks.append(converted.to_ndarray())
    except av.FFmpegError as error:
        raise MediaError(
            f"Cannot read audio of '{path}': not a format we can decode, or the file is corrupt "
            f"({ffmpeg_reason(error)})."
        ) from None
    if not blocks:
        return np.zeros((1, 0), dtype=np.float32), rate or SAMPLE_RATE
    return np.concatenate(blocks, axis=1).astype(np.float32, copy=False), rate


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(channels, n) float32 at any rate → (m,) float32 at 16 kHz, exactly as librosa.load(sr=16000)."""
    mono = np.mean(samples, axis=0) if samples.ndim == 2 else samples  # librosa.to_mono
    mono = mono.astype(np.float32, copy=False)
    if sample_rate == SAMPLE_RATE:
        return mono
    n_out = math.ceil(mono.shape[0] * (SAMPLE_RATE / sample_rate))
    resampled = soxr.resample(mono, sample_rate, SAMPLE_RATE, quality=RESAMPLE_QUALITY)
    # librosa.util.fix_length: soxr may return a sample more or less than ⌈n·ratio⌉.
    if resampled.shape[0] > n_out:
        resampled = resampled[:n_out]
    elif resampled.shape[0] < n_out:
        resampled = np.pad(resampled, (0, n_out - resampled.shape[0]))
    return np.asarray(resampled, dtype=np.float32)


def array_to_channels(samples: np.ndarray) -> np.ndarray:
    """A caller's array → float32 (channels, n).

    1-D arrays are mono; 2-D arrays are (frames, channels) as soundfile and sounddevice give them.
    int16 is scaled by 1/32768 like every decoder does.
    """
    if samples.ndim not in (1, 2):
        raise MediaError(
            f"Audio array has shape {samples.shape}; expected (samples,) or (samples, channels)."
        )
    if samples.dtype == np.int16:
        samples = samples.astype(np.float32) / np.float32(32768)
    elif np.issubdtype(samples.dtype, np.floating):
        samples = samples.astype(np.float32, copy=False)
    else:
        raise MediaError(f"Audio array has dtype {samples.dtype}; expected float32 or int16 samples.")
    return samples[None, :] if samples.ndim == 1 else np.ascontiguousarray(samples.T)


def load_audio(source: AudioSource, sample_rate: int | None = None) -> np.ndarray:
    """Any file or array → (n,) float32 mono at 16 kHz. Arrays need their ``sample_rate``."""
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise ValueError("an audio array needs its sample_rate")
        return to_mono_16k(array_to_channels(source), sample_rate)
    return to_mono_16k(*read_audio_file(source))


# --- features ----------------------------------------------------------------------------------
def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default, htk=False)."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    mels = hz / f_sp
    return np.where(
        hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, mels
    )


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)


@functools.cache
def mel_filters(n_mels: int = N_MELS) -> torch.Tensor:
    """(n_mels, 201) Slaney-normalised triangular filters, as whisper's ``mel_filters.npz`` holds.

    The arithmetic (float64 ramps stored into float32, then scaled by the float64 Slaney norm)
    follows ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels)``, which whisper's file was
    made with; the test suite checks the result bit for bit against that file's values.
    """
    fft_freqs = np.fft.rfftfreq(n=N_FFT, d=1.0 / SAMPLE_RATE)  # (201,)
    mel_points = np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SAMPLE_RATE / 2)), n_mels + 2)
    hz_points = _mel_to_hz(mel_points)  # (n_mels + 2,)
    spacing = np.diff(hz_points)
    ramps = np.subtract.outer(hz_points, fft_freqs)
    weights = np.zeros((n_mels, fft_freqs.shape[0]), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / spacing[i]
        upper = ramps[i + 2] / spacing[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_points[2 : n_mels + 2] - hz_points[:n_mels]))[:, np.newaxis]
    return torch.from_numpy(weights)


def log_mel_spectrogram(chunk: torch.Tensor) -> torch.Tensor:
    """One 480 000-sample chunk → (3000, 128) log-mel, Whisper's recipe step by step.

    STFT (n_fft 400, hop 160, periodic Hann, centred with reflect padding) gives 3001 frames; the
    last is dropped. Power → mel → log10 clamped at 1e-10 → floor at (max − 8) → (x + 4) / 4.
    The max is per chunk, as in the official per-chunk loop.
    """
    window = torch.hann_window(N_FFT)
    stft = torch.stft(chunk, N_FFT, HOP_LENGTH, window=window, return_complex=True)  # (201, 3001)
    power = stft[..., :-1].abs() ** 2  # (201, 3000)
    mel = mel_filters() @ power  # (128, 3000)
    log_spec = torch.clamp(mel, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).T  # (3000, 128)


def speech_features(pcm: np.ndarray, name: str = "The recording") -> AudioClip:
    """16 kHz mono float32 samples → the model's :class:`SpeechInput`, cut into 30 s chunks.

    ``name`` says in an error message what the samples came from (empty audio is an error: the
    model has nothing to listen to).
    """
    if pcm.ndim != 1:
        raise ValueError(f"expected mono 16 kHz samples, got shape {pcm.shape}")
    if pcm.shape[0] == 0:
        raise MediaError(f"{name} contains no audio samples. Record or choose a longer clip.")
    duration_s = pcm.shape[0] / SAMPLE_RATE
    n_chunks = math.ceil(pcm.shape[0] / CHUNK_SAMPLES)
    truncated = n_chunks > MAX_CHUNKS
    if truncated:
        logger.warning(
            "Audio of %.0f s is longer than the model's limit of %d s; only the first %d s are used.",
            duration_s,
            MAX_CHUNKS * CHUNK_SECONDS,
            MAX_CHUNKS * CHUNK_SECONDS,
        )
        n_chunks = MAX_CHUNKS
    wavs = torch.zeros(n_chunks, CHUNK_SAMPLES, dtype=torch.float32)  # (n, 480000), zero-padded
    used = min(pcm.shape[0], n_chunks * CHUNK_SAMPLES)
    wavs.view(-1)[:used] = torch.from_numpy(np.ascontiguousarray(pcm[:used], dtype=np.float32))
    mels = torch.stack([log_mel_spectrogram(chunk) for chunk in wavs])  # (n, 3000, 128)
    return AudioClip(speech=SpeechInput(mels=mels, wavs=wavs), duration_s=duration_s, truncated=truncated)


def process_audio(source: AudioSource, sample_rate: int | None = None) -> AudioClip:
    """A file (any common format) or an array at ``sample_rate`` → speech-encoder inputs.

    An empty file or array raises :class:`MediaError` naming the file.
    """
    name = "The audio array" if isinstance(source, np.ndarray) else f"Audio file '{source}'"
    return speech_features(load_audio(source, sample_rate), name)
