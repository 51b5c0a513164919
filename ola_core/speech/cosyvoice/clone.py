"""Zero-shot voice cloning: a 3–10 s clip + its transcript → a voice entry, saved and reused.

CosyVoice2 speaks in a voice it has heard once. From the clip we need four things, made the way
upstream's front end makes them:

* the speaker x-vector: 80-bin Kaldi fbank at 16 kHz, mean-normalised over time, through
  ``campplus.onnx`` → (1, 192);
* the clip's speech tokens: Whisper's 128-bin log-mel at 16 kHz through
  ``speech_tokenizer_v2.onnx`` → (1, P) at 25 Hz;
* the clip's mel at 24 kHz (the flow decoder's own features: n_fft 1920, hop 480, 80 Slaney
  bins up to 8 kHz, magnitude, natural log) → (1, 2P, 80), trimmed with the tokens to 2 frames
  per token;
* the transcript's text ids.

The ONNX models run through onnxruntime on the CPU (a clip is processed once). The entry uses
upstream's ``spk2info`` keys, so voices saved here and upstream's ``add_zero_shot_spk`` files are
interchangeable; :func:`save_voice` / :func:`load_voices` keep them in one ``torch.save`` file
(tensors only, read back with ``weights_only=True``): no re-extraction on later runs.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from torch import Tensor

from ola_core.errors import CorruptModelFileError, MediaError, ModelFilesMissingError
from ola_core.processing.audio import log_mel_spectrogram
from ola_core.processing.fbank import kaldi_fbank
from ola_core.speech.cosyvoice.files import CLONING_FILES
from ola_core.speech.cosyvoice.loading import LoadedCosyVoice

__all__ = ["VoiceCloner", "flow_mel", "load_voices", "save_voice"]

CAMPPLUS_FILE, SPEECH_TOKENIZER_FILE = CLONING_FILES
MIN_SECONDS, MAX_SECONDS = 1.0, 30.0  # upstream refuses > 30 s; 3–10 s is what works best


@functools.cache
def _slaney_mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> Tensor:
    """(n_mels, n_fft/2+1) triangular filters on Slaney's mel scale, Slaney-normalised (librosa's default)."""

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        linear = hz / (200.0 / 3)
        return np.where(
            hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), linear
        )

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))

    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    points = mel_to_hz(np.linspace(hz_to_mel(np.array(fmin)), hz_to_mel(np.array(fmax)), n_mels + 2))
    rising = (fft_hz[None, :] - points[:-2, None]) / np.diff(points)[:-1, None]
    falling = (points[2:, None] - fft_hz[None, :]) / np.diff(points)[1:, None]
    weights = np.maximum(0, np.minimum(rising, falling)) * (2.0 / (points[2:] - points[:-2]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


def flow_mel(
    wav24k: Tensor, n_fft: int = 1920, hop: int = 480, n_mels: int = 80, fmax: float = 8000.0
) -> Tensor:
    """(n,) 24 kHz samples -> (frames, 80) log-magnitude mel, the flow decoder's feature."""
    padding = (n_fft - hop) // 2
    padded = F.pad(wav24k.float()[None, None], (padding, padding), mode="reflect")[0]
    spectrum = torch.stft(
        padded, n_fft, hop, n_fft, window=torch.hann_window(n_fft), center=False, return_complex=True
    )
    magnitude = torch.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-9)[0]  # (n_fft/2+1, frames)
    mel = _slaney_mel_filters(24_000, n_fft, n_mels, 0.0, fmax) @ magnitude
    return torch.log(mel.clamp(min=1e-5)).T


class VoiceCloner:
    """Turns clips into voice entries with the model folder's two ONNX encoders."""

    def __init__(self, model: LoadedCosyVoice) -> None:
        from ola_core.privacy import onnxruntime_module

        onnxruntime = onnxruntime_module()
        self.model = model
        sessions: dict[str, Any] = {}
        for name in (CAMPPLUS_FILE, SPEECH_TOKENIZER_FILE):
            path = model.model_dir / name
            if not path.is_file():
                raise ModelFilesMissingError(
                    f"Cloning a voice needs {path}, which is missing. Download the CosyVoice2-0.5B folder again."
                )
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            try:
                sessions[name] = onnxruntime.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as error:
                raise CorruptModelFileError(f"{path} cannot be read ({error}). Download it again.") from error
        self._speaker_encoder = sessions[CAMPPLUS_FILE]
        self._tokenizer = sessions[SPEECH_TOKENIZER_FILE]

    def clone(self, samples: np.ndarray, sample_rate: int, transcript: str) -> dict[str, Tensor]:
        """A voice entry (upstream's spk2info keys) from mono float samples and what they say."""
        samples = np.asarray(samples, dtype=np.float32)
        seconds = len(samples) / sample_rate
        if samples.ndim != 1 or not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise MediaError(
                f"A voice sample must be one mono clip of {MIN_SECONDS:g}–{MAX_SECONDS:g} s (3–10 s works best); "
                f"this one is {seconds:.1f} s."
            )
        if not transcript.strip():
            raise MediaError("Type what the voice sample says: cloning needs its transcript.")
        wav16k = torch.from_numpy(soxr.resample(samples, sample_rate, 16_000, quality="HQ"))
        wav24k = torch.from_numpy(soxr.resample(samples, sample_rate, 24_000, quality="HQ"))
        fbank = kaldi_fbank(wav16k, num_mel_bins=80)
        fbank = fbank - fbank.mean(dim=0, keepdim=True)
        embedding = self._speaker_encoder.run(
            None, {self._speaker_encoder.get_inputs()[0].name: fbank[None].numpy()}
        )[0]
        whisper_mel = log_mel_spectrogram(wav16k).T[None]  # (1, 128, frames)
        inputs = self._tokenizer.get_inputs()
        tokens = self._tokenizer.run(
            None,
            {
                inputs[0].name: whisper_mel.numpy(),
                inputs[1].name: np.array([whisper_mel.shape[2]], dtype=np.int32),
            },
        )[0].reshape(1, -1)
        mel = flow_mel(wav24k)
        count = min(mel.shape[0] // 2, tokens.shape[1])  # 2 mel frames per token, cut to the shorter
        speech_tokens = torch.from_numpy(tokens[:, :count].astype(np.int32))
        prompt_mel = mel[None, : 2 * count]
        text = torch.tensor([self.model.tokenizer(transcript)["input_ids"]], dtype=torch.int32)
        speaker = torch.from_numpy(np.asarray(embedding, dtype=np.float32).reshape(1, -1))
        return {
            "prompt_text": text,
            "prompt_text_len": torch.tensor([text.shape[1]], dtype=torch.int32),
            "llm_prompt_speech_token": speech_tokens,
            "llm_prompt_speech_token_len": torch.tensor([count], dtype=torch.int32),
            "flow_prompt_speech_token": speech_tokens,
            "flow_prompt_speech_token_len": torch.tensor([count], dtype=torch.int32),
            "prompt_speech_feat": prompt_mel,
            "prompt_speech_feat_len": torch.tensor([2 * count], dtype=torch.int32),
            "llm_embedding": speaker,
            "flow_embedding": speaker,
            "embedding": speaker,
        }


def load_voices(path: Path) -> dict[str, dict[str, Tensor]]:
    """Saved voices ({} when the file does not exist yet)."""
    if not path.is_file():
        return {}
    try:
        voices = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CorruptModelFileError(
            f"The saved voices in {path} cannot be read ({error}); delete the file and clone the voices again."
        ) from error
    return {str(k): v for k, v in voices.items() if isinstance(v, dict)}


def save_voice(path: Path, name: str, entry: dict[str, Tensor]) -> None:
    """Add or replace one voice in the file (written to a temporary file, then renamed)."""
    voices = load_voices(path)
    voices[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    torch.save(voices, partial)
    partial.replace(path)
