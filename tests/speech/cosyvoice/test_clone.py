"""Zero-shot cloning: features, the ONNX encoders (stand-ins in the tiny folder), saving, speaking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ola_core.errors import MediaError
from ola_core.processing.fbank import kaldi_fbank
from ola_core.speech.cosyvoice.clone import VoiceCloner, flow_mel, load_voices
from ola_core.speech.cosyvoice.loading import LoadedCosyVoice
from ola_core.speech.cosyvoice.runtime import CosyVoiceRuntime
from ola_core.speech.cosyvoice.synthesizer import CosyVoiceSynthesizer
from tests.speech.cosyvoice.media import clip

REFERENCE = Path(__file__).parents[2] / "fixtures" / "cosyvoice" / "clone_features.npz"


def test_features_match_upstream_front_end() -> None:
    """Flow mel (matcha.utils.audio.mel_spectrogram) and 80-bin fbank (torchaudio kaldi.fbank)."""
    with np.load(REFERENCE) as ref:
        np.testing.assert_allclose(
            flow_mel(torch.from_numpy(clip(24_000))).numpy(), ref["flow_mel"], atol=2e-3
        )
        np.testing.assert_allclose(
            kaldi_fbank(torch.from_numpy(clip(16_000)), num_mel_bins=80).numpy(), ref["fbank80"], atol=5e-3
        )


def test_clone_makes_an_aligned_prompt(tiny_cosyvoice: LoadedCosyVoice) -> None:
    entry = VoiceCloner(tiny_cosyvoice).clone(clip(22_050, 4.0), 22_050, "This is my voice.")
    tokens, mel = entry["flow_prompt_speech_token"], entry["prompt_speech_feat"]
    assert tokens.shape[1] == pytest.approx(4.0 * 25, abs=2)  # 25 Hz tokens
    assert mel.shape == (1, 2 * tokens.shape[1], 80)
    assert int(tokens.max()) < tiny_cosyvoice.config.flow.vocab_size
    assert entry["flow_embedding"].shape == (1, 192)
    assert entry["prompt_text"].shape[1] > 0


def test_bad_samples_are_refused(tiny_cosyvoice: LoadedCosyVoice) -> None:
    cloner = VoiceCloner(tiny_cosyvoice)
    with pytest.raises(MediaError, match=r"0\.2 s"):
        cloner.clone(clip(16_000, 0.2), 16_000, "Too short.")
    with pytest.raises(MediaError, match="transcript"):
        cloner.clone(clip(16_000, 3.0), 16_000, "  ")


@pytest.mark.slow
def test_a_cloned_voice_is_saved_and_speaks(
    tiny_cosyvoice_dir: Path, tiny_cosyvoice: LoadedCosyVoice, tmp_path: Path
) -> None:
    voices = tmp_path / "voices.pt"
    synth = CosyVoiceSynthesizer(tiny_cosyvoice_dir, "cpu", greedy=True, voices_file=voices)
    synth._runtime = CosyVoiceRuntime(tiny_cosyvoice, greedy=True)
    synth.clone_voice("me", clip(16_000, 3.0), 16_000, "This is my voice.")
    assert "me" in load_voices(voices) and "me" in synth.voices()
    again = CosyVoiceSynthesizer(
        tiny_cosyvoice_dir, "cpu", voices_file=voices
    )  # a later run: no re-extraction
    again._runtime = synth._runtime
    chunks = list(again.synthesize("Hello there, this is a longer test of it.", voice="me"))
    assert chunks and all(c.dtype == np.float32 for c in chunks)
    assert sum(len(c) for c in chunks) % 480 == 0
