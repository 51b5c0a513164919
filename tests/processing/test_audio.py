"""Audio: librosa-identical resampling, Whisper-identical log-mels, chunking, the 25-chunk cap, bad files."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
import torch

from ola_core.errors import MediaError
from ola_core.processing.audio import (
    CHUNK_SAMPLES,
    MAX_CHUNKS,
    SAMPLE_RATE,
    load_audio,
    mel_filters,
    process_audio,
    read_audio_track,
    speech_features,
)
from ola_core.processing.prompt import media_token_count
from tests.processing import media_gen
from tests.processing.conftest import FIXTURES, load_fixture

AUDIO = load_fixture("audio.json")
ARRAYS = np.load(FIXTURES / "audio_arrays.npz")


def write_m4a(path: Path, samples: np.ndarray, rate: int) -> Path:
    """AAC in an MP4 container (what phones record), from mono float32 samples."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_mel_filters_equal_whispers_bundled_file() -> None:
    assert media_gen.sha256(mel_filters().numpy()) == AUDIO["whisper_mel_128_sha256"]


@pytest.mark.parametrize("name", sorted(media_gen.AUDIO_CASES))
def test_resampled_samples_match_librosa_load(name: str, tmp_path: Path) -> None:
    reference = AUDIO["cases"][name]
    path = media_gen.write_audio(name, tmp_path)
    pcm = load_audio(path)
    assert pcm.dtype == np.float32
    assert pcm.shape == (reference["pcm16k_len"],)
    stride = reference["pcm_slice_stride"]
    np.testing.assert_allclose(pcm[::stride], ARRAYS[f"{name}/pcm16k_strided"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(media_gen.AUDIO_CASES))
def test_mels_and_chunks_match_official(name: str, tmp_path: Path) -> None:
    reference = AUDIO["cases"][name]
    clip = process_audio(media_gen.write_audio(name, tmp_path))
    mels, wavs = clip.speech.mels, clip.speech.wavs
    assert list(mels.shape) == reference["mels_shape"] and mels.dtype == torch.float32
    assert list(wavs.shape) == reference["wavs_shape"] and wavs.dtype == torch.float32
    assert not clip.truncated
    stride = reference["mel_slice_stride"]
    np.testing.assert_allclose(mels[:, ::stride].numpy(), ARRAYS[f"{name}/mels_strided"], rtol=0, atol=1e-4)
    for k, chunk in enumerate(mels.double()):
        assert chunk.mean().item() == pytest.approx(reference["mels_chunk_mean"][k], abs=1e-6)
        assert chunk.std().item() == pytest.approx(reference["mels_chunk_std"][k], abs=1e-6)
        assert chunk.min().item() == pytest.approx(reference["mels_chunk_min"][k], abs=1e-5)
        assert chunk.max().item() == pytest.approx(reference["mels_chunk_max"][k], abs=1e-5)
    assert media_token_count(clip.speech) == reference["tokens"]


def test_chunks_are_the_samples_zero_padded() -> None:
    pcm = np.random.default_rng(0).uniform(-0.5, 0.5, CHUNK_SAMPLES + 1234).astype(np.float32)
    clip = speech_features(pcm)
    assert clip.n_chunks == 2
    assert clip.duration_s == pytest.approx((CHUNK_SAMPLES + 1234) / SAMPLE_RATE)
    flat = clip.speech.wavs.reshape(-1).numpy()
    assert np.array_equal(flat[: pcm.shape[0]], pcm)
    assert not flat[pcm.shape[0] :].any()


def test_long_audio_is_cut_to_25_chunks_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    pcm = np.zeros(MAX_CHUNKS * CHUNK_SAMPLES + SAMPLE_RATE, dtype=np.float32)  # 12.5 min + 1 s
    pcm[::997] = 0.1
    with caplog.at_level(logging.WARNING, logger="ola_core.processing.audio"):
        clip = speech_features(pcm)
    assert clip.truncated and clip.n_chunks == MAX_CHUNKS
    assert clip.speech.mels.shape == (MAX_CHUNKS, 3000, 128)
    assert clip.speech.wavs.shape == (MAX_CHUNKS, CHUNK_SAMPLES)
    assert "only the first 750 s are used" in caplog.text


@pytest.mark.slow
def test_a_long_file_is_decoded_only_as_far_as_the_model_listens(tmp_path: Path) -> None:
    """13 min at 8 kHz: we decode 751 s, yet the first 750 s at 16 kHz equal resampling it all."""
    rate = 8000
    path = tmp_path / "podcast.wav"
    soundfile.write(path, media_gen.audio_samples(780.0, rate, 1, seed=11), rate, subtype="PCM_16")
    capped = load_audio(path)
    assert capped.shape[0] == 751 * SAMPLE_RATE
    whole = load_audio(path, max_seconds=None)
    assert whole.shape[0] == 780 * SAMPLE_RATE
    kept = MAX_CHUNKS * CHUNK_SAMPLES
    assert np.array_equal(capped[:kept], whole[:kept])
    clip = process_audio(path)
    assert clip.truncated and clip.n_chunks == MAX_CHUNKS
    assert clip.duration_s == pytest.approx(780.0)


def test_pyav_decoding_stops_early_but_knows_the_length(tmp_path: Path) -> None:
    path = write_m4a(tmp_path / "long.m4a", media_gen.audio_samples(4.0, 16000, 1, seed=12)[:, 0], 16000)
    decoded = read_audio_track(path, max_seconds=0.5)
    assert decoded is not None
    assert 1.5 <= decoded.samples.shape[1] / decoded.rate < 2.0  # 0.5 s + 1 s margin, whole frames
    assert decoded.source_seconds == pytest.approx(4.0, abs=0.1)


def test_arrays_int16_float_and_stereo_agree() -> None:
    rng = np.random.default_rng(1)
    ints = rng.integers(-20000, 20000, size=(8000, 2), dtype=np.int16)
    floats = ints.astype(np.float32) / 32768
    from_ints = load_audio(ints, 8000)
    from_floats = load_audio(floats, 8000)
    assert np.array_equal(from_ints, from_floats)
    assert from_ints.shape == (16000,)  # 1 s at 8 kHz → 1 s at 16 kHz
    mono = load_audio(floats.mean(axis=1), 16000)
    assert np.array_equal(mono, floats.mean(axis=1))  # at 16 kHz nothing is resampled


def test_m4a_decodes_through_pyav(tmp_path: Path) -> None:
    """Containers libsndfile cannot read (AAC in MP4) go through FFmpeg; the lossy codec is close."""
    rate = 44_100
    samples = media_gen.audio_samples(2.0, rate, 1, seed=5)[:, 0]
    decoded = load_audio(write_m4a(tmp_path / "voice.m4a", samples, rate))
    expected = load_audio(samples, rate)
    assert abs(decoded.shape[0] - expected.shape[0]) < 0.1 * SAMPLE_RATE  # codec priming/padding
    lag = int(np.argmax(np.correlate(decoded[:8000], expected[:4000], mode="valid")))
    overlap = min(decoded.shape[0] - lag, expected.shape[0])
    correlation = np.corrcoef(decoded[lag : lag + overlap], expected[:overlap])[0, 1]
    assert correlation > 0.95


def test_empty_audio_is_a_media_error(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(MediaError, match=r"silence\.wav.*no audio samples"):
        process_audio(path)
    with pytest.raises(MediaError, match="no audio samples"):
        process_audio(np.zeros(0, dtype=np.float32), 16000)


def test_corrupt_and_foreign_files_are_media_errors(tmp_path: Path) -> None:
    fake = tmp_path / "talk.mp3"
    fake.write_text("hello, this is text\n" * 20)
    with pytest.raises(MediaError, match=r"talk\.mp3"):
        process_audio(fake)
    with pytest.raises(MediaError, match=r"gone\.wav.*does not exist"):
        process_audio(tmp_path / "gone.wav")


def test_bad_arrays_are_rejected() -> None:
    with pytest.raises(MediaError, match="dtype int64"):
        process_audio(np.zeros(100, dtype=np.int64), 16000)
    with pytest.raises(MediaError, match="shape"):
        process_audio(np.zeros((2, 2, 2), dtype=np.float32), 16000)
