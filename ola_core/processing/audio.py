"""Audio → 16 kHz mono → 30 s chunks → Whisper log-mels + raw chunks, as the official inference.

The official ``load_audio`` (inference/infer.py) does ``librosa.load(path, sr=16000)`` (soundfile
decoding to float32, channel mean, soxr "HQ" resampling, length fixed to ⌈n·16000/sr⌉), cuts the
clip into consecutive 480 000-sample chunks (the last one zero-padded), computes
``whisper.log_mel_spectrogram(chunk, n_mels=128)`` per chunk and keeps the first 25 chunks.
We do the same with our own code: soundfile (or PyAV for containers soundfile cannot read, such
as m4a), python-soxr with the same quality, and the Whisper mel pipeline written out below with
the filter bank computed here (librosa's Slaney formula, checked equal to whisper's bundled
``mel_filters.npz``). The BEATs encoder gets the raw padded chunks.

Unlike the official code we stop decoding a file shortly after the 12.5 minutes the model can
take (a long podcast would otherwise cost gigabytes; the kept samples are the same) and cut the
samples *before* computing mels, and we say so: a warning is logged and
:attr:`AudioClip.truncated` is set.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import torch

from ola_core.errors import MediaError
from ola_core.processing.files import ffmpeg_reason, open_media, require_file
from ola_core.processing.inputs import SpeechInput

# av, soundfile and soxr are imported where files are decoded or resampled: the model and the
# engine (mels of an in-memory 16 kHz clip) then run without them, e.g. on a bare GPU machine.

logger = logging.getLogger(__name__)

AudioSource: TypeAlias = str | Path | np.ndarray

SAMPLE_RATE = 16_000
CHUNK_SECONDS = 30
CHUNK_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS  # 480 000
MAX_CHUNKS = 25  # the official cap: 12.5 minutes
MAX_SECONDS = MAX_CHUNKS * CHUNK_SECONDS
N_FFT = 400  # 25 ms window
HOP_LENGTH = 160  # 10 ms hop → 3000 frames per chunk
N_MELS = 128  # Whisper large-v3
RESAMPLE_QUALITY = "soxr_hq"  # librosa.load's default res_type


@dataclass(frozen=True)
class AudioClip:
    """A clip ready for the speech encoders, with what a caller needs to tell the user."""

    speech: SpeechInput
    duration_s: float  # of the whole source, before cutting and padding
    truncated: bool  # True when the clip was longer than MAX_CHUNKS × 30 s and was cut

    @property
    def n_chunks(self) -> int:
        return int(self.speech.mels.shape[0])


# --- decoding ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodedAudio:
    """A file's samples at their native rate, decoded only as far as the model can use them."""

    samples: np.ndarray  # (channels, n) float32
    rate: int
    source_seconds: float  # length of the file's whole audio; may exceed what was decoded


def _decode_limit(rate: int, max_seconds: float | None) -> int | None:
    """Samples worth decoding: the model's 750 s plus a margin, so that resampling near the cut
    sees the same neighbours as when the whole file is resampled (the official way)."""
    return None if max_seconds is None else math.ceil((max_seconds + 1.0) * rate)


def read_audio_file(path: str | Path, max_seconds: float | None = MAX_SECONDS) -> DecodedAudio:
    """Decode a file (at most about ``max_seconds``; None: all of it) at its native rate.

    soundfile first (what librosa.load uses, so wav/flac/ogg/mp3 decode bit-identically to the
    official), PyAV for everything else (m4a, aac, audio in video containers). The cap keeps a
    two-hour podcast from taking gigabytes of memory for the 12.5 minutes the model can hear.
    """
    import soundfile

    path = require_file(path, "Audio file")
    try:
        # An open Python file, not the name: libsndfile cannot open names that are not UTF-8.
        with open(path, "rb") as raw, soundfile.SoundFile(raw) as file:
            limit = _decode_limit(file.samplerate, max_seconds)
            frames = -1 if limit is None or file.frames <= limit else limit
            samples = file.read(frames=frames, dtype="float32", always_2d=True)  # (n, channels)
            decoded = DecodedAudio(
                np.ascontiguousarray(samples.T), file.samplerate, file.frames / file.samplerate
            )
    except soundfile.SoundFileRuntimeError:
        # not a format libsndfile knows: let FFmpeg (PyAV) try
        found = read_audio_track(path, max_seconds)
        if found is None:
            raise MediaError(f"Cannot read audio '{path}': the file has no audio track.") from None
        decoded = found
    except PermissionError:
        raise MediaError(
            f"Cannot read audio '{path}': permission denied. Check the file's permissions."
        ) from None
    require_finite(decoded.samples, f"Audio file '{path}'")
    return decoded


def require_finite(samples: np.ndarray, name: str) -> None:
    """A :class:`MediaError` naming ``name`` when any sample is NaN or infinite.

    Float files can hold them; they would poison the mel features and every answer after them.
    """
    if not np.isfinite(samples).all():
        raise MediaError(
            f"{name} contains invalid samples (NaN or infinity); the file is damaged. Choose another file."
        )


def read_audio_track(path: str | Path, max_seconds: float | None = MAX_SECONDS) -> DecodedAudio | None:
    """The first audio stream of any FFmpeg-readable file, or None if it has none."""
    import av

    path = Path(path)
    blocks: list[np.ndarray] = []
    decoded = 0
    rate = SAMPLE_RATE
    try:
        with open_media(path) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            rate = stream.rate or SAMPLE_RATE
            limit = _decode_limit(rate, max_seconds)
            # Planar float at the native rate and layout: the same int→float scaling as soundfile.
            converter = av.AudioResampler(format="fltp", rate=rate)
            for frame in container.decode(stream):
                for converted in converter.resample(frame):
                    blocks.append(converted.to_ndarray())  # (channels, n)
                    decoded += blocks[-1].shape[1]
                if limit is not None and decoded >= limit:
                    break
            else:
                blocks.extend(converted.to_ndarray() for converted in converter.resample(None))  # flush
            container_seconds = (container.duration or 0) / av.time_base
    except av.FFmpegError as error:
        raise MediaError(
            f"Cannot read audio of '{path}': not a format we can decode, or the file is corrupt "
            f"({ffmpeg_reason(error)})."
        ) from None
    samples = np.concatenate(blocks, axis=1) if blocks else np.zeros((1, 0), dtype=np.float32)
    require_finite(samples, f"The audio of '{path}'")
    seconds = samples.shape[1] / rate
    if limit is not None and decoded >= limit:  # stopped early: the container knows the length
        seconds = max(seconds, container_seconds)
    return DecodedAudio(samples.astype(np.float32, copy=False), rate, seconds)


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(channels, n) float32 at any rate → (m,) float32 at 16 kHz, exactly as librosa.load(sr=16000)."""
    mono = np.mean(samples, axis=0) if samples.ndim == 2 else samples  # librosa.to_mono
    mono = mono.astype(np.float32, copy=False)
    if sample_rate == SAMPLE_RATE:
        return mono
    import soxr  # only to resample: 16 kHz clips (the engine's) need no soxr

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
        require_finite(samples, "The audio array")
    else:
        raise MediaError(f"Audio array has dtype {samples.dtype}; expected float32 or int16 samples.")
    return samples[None, :] if samples.ndim == 1 else np.ascontiguousarray(samples.T)


def load_audio(
    source: AudioSource, sample_rate: int | None = None, max_seconds: float | None = MAX_SECONDS
) -> np.ndarray:
    """Any file or array → (n,) float32 mono at 16 kHz. Arrays need their ``sample_rate``.

    Files are decoded up to about ``max_seconds`` (default: the 12.5 minutes the model takes,
    plus a second; None: everything).
    """
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise ValueError("an audio array needs its sample_rate")
        return to_mono_16k(array_to_channels(source), sample_rate)
    decoded = read_audio_file(source, max_seconds)
    return to_mono_16k(decoded.samples, decoded.rate)


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


def speech_features(
    pcm: np.ndarray, name: str = "The recording", source_seconds: float | None = None
) -> AudioClip:
    """16 kHz mono float32 samples → the model's :class:`SpeechInput`, cut into 30 s chunks.

    ``name`` says in an error message what the samples came from (empty audio is an error: the
    model has nothing to listen to). ``source_seconds`` is the length of the whole source when
    only its beginning was decoded.
    """
    if pcm.ndim != 1:
        raise ValueError(f"expected mono 16 kHz samples, got shape {pcm.shape}")
    if pcm.shape[0] == 0:
        raise MediaError(f"{name} contains no audio samples. Record or choose a longer clip.")
    duration_s = source_seconds if source_seconds is not None else pcm.shape[0] / SAMPLE_RATE
    n_chunks = math.ceil(pcm.shape[0] / CHUNK_SAMPLES)
    truncated = n_chunks > MAX_CHUNKS
    if truncated:
        logger.warning(
            "%s lasts %.0f s, longer than the model's limit of %d s; only the first %d s are used.",
            name,
            duration_s,
            MAX_SECONDS,
            MAX_SECONDS,
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
    if isinstance(source, np.ndarray):
        return speech_features(load_audio(source, sample_rate), "The audio array")
    return decoded_to_clip(read_audio_file(source), f"Audio file '{source}'")


def decoded_to_clip(decoded: DecodedAudio, name: str) -> AudioClip:
    """Decoded file audio → 16 kHz mono → :class:`AudioClip` (``name`` as in :func:`speech_features`)."""
    return speech_features(to_mono_16k(decoded.samples, decoded.rate), name, decoded.source_seconds)
