"""The speech encoders and projector against reference numbers from the official Ola classes.

tests/fixtures/model/speech/README.md says how the references were made: the official
DualWrappedEncoder / BEATs / EncoderProjectorConcat (Ola @ f681820, openai-whisper 20250625) ran
on the tiny encoder files that OUR writers produce (seed 0), fed with tests/model/speech_inputs.py.
At fp32 our numbers must agree to float rounding; the deployed bf16 path to bf16 rounding.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ola_core.errors import CorruptModelFileError, MediaError, ModelFilesMissingError
from ola_core.model.beats import BEATS_AS2M_CPT2_CFG, Beats
from ola_core.model.configuration import OlaConfig
from ola_core.model.dual_encoder import DualSpeechEncoder
from ola_core.model.encoder_files import load_beats_state, load_whisper_encoder_state
from ola_core.model.projectors import SpeechProjector
from ola_core.model.tiny import (
    TINY_BEATS_CFG,
    TINY_WHISPER_DIMS,
    write_tiny_beats_file,
    write_tiny_whisper_file,
)
from ola_core.model.whisper import WHISPER_LARGE_V3_DIMS
from ola_core.processing.fbank import kaldi_fbank
from tests.model.speech_inputs import chunks, fake_mels, projector_params, signal

FIXTURES = Path(__file__).parent.parent / "fixtures" / "model" / "speech"
STRIDE = 37  # the references keep every 37th frame (all 1500 would make the fixture large)
WHISPER_WIDTH, BEATS_WIDTH = 64, 32  # the tiny encoders
pytestmark = pytest.mark.numerics


def tiny_config(**overrides: int) -> OlaConfig:
    sizes = dict(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        speech_encoder_hidden_size=WHISPER_WIDTH + BEATS_WIDTH,
        speech_encoder_ds_rate=10,
    )
    return OlaConfig(bos_token_id=None, eos_token_id=None, **(sizes | overrides))


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "speech_reference.npz") as data:
        return dict(data)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("speech")
    return (
        write_tiny_whisper_file(folder / "large-v3.pt", seed=0),
        write_tiny_beats_file(folder / "beats.pt", seed=0),
    )


@pytest.fixture(scope="module")
def encoder(tiny_files: tuple[Path, Path]) -> DualSpeechEncoder:
    return DualSpeechEncoder.from_files(tiny_config(), *tiny_files, dtype=torch.float32)


def run_dual(encoder: DualSpeechEncoder, seconds: int) -> torch.Tensor:
    wav_seed, mel_seed = {5: (1, 3), 70: (2, 4)}[seconds]
    wavs = torch.from_numpy(chunks(signal(seconds, wav_seed)))
    mels = torch.from_numpy(fake_mels(len(wavs), mel_seed))
    return encoder(mels, wavs)


@pytest.fixture(scope="module")
def dual_5s(encoder: DualSpeechEncoder) -> torch.Tensor:
    return run_dual(encoder, 5)


@pytest.fixture(scope="module")
def dual_70s(encoder: DualSpeechEncoder) -> torch.Tensor:
    return run_dual(encoder, 70)


def assert_close(ours: torch.Tensor | np.ndarray, theirs: np.ndarray, atol: float, rtol: float = 0.0) -> None:
    np.testing.assert_allclose(
        np.asarray(ours, np.float64), np.asarray(theirs, np.float64), atol=atol, rtol=rtol
    )


# --- files ---------------------------------------------------------------------------------------


def test_tiny_writers_write_the_files_the_references_came_from(
    tiny_files: tuple[Path, Path], ref: dict[str, np.ndarray]
) -> None:
    whisper = torch.load(tiny_files[0], weights_only=True)
    beats = torch.load(tiny_files[1], weights_only=True)
    for state, prefix in ((whisper["model_state_dict"], "whisper"), (beats["model"], "beats")):
        keys = sorted(state)
        assert keys == list(ref[f"{prefix}_file_keys"])
        assert_close([state[k].double().sum().item() for k in keys], ref[f"{prefix}_file_sum"], atol=0)
    # The official formats: whisper fp16 with a decoder and its dims, BEATs fp32 with its cfg.
    assert {v.dtype for v in whisper["model_state_dict"].values()} == {torch.float16}
    assert any(k.startswith("decoder.blocks.0.cross_attn.") for k in whisper["model_state_dict"])
    assert set(whisper["dims"]) == set(WHISPER_LARGE_V3_DIMS)
    assert {v.dtype for v in beats["model"].values()} == {torch.float32}
    assert beats["cfg"] == TINY_BEATS_CFG


def test_loaders_keep_the_encoder_under_our_names(tiny_files: tuple[Path, Path]) -> None:
    dims, whisper = load_whisper_encoder_state(tiny_files[0])
    assert dims["n_audio_state"] == WHISPER_WIDTH
    assert "conv1.weight" in whisper and "blocks.1.mlp.2.bias" in whisper
    assert not any(k.startswith(("encoder.", "decoder.")) for k in whisper)
    assert whisper["conv1.weight"].dtype == torch.float16
    cfg, beats = load_beats_state(tiny_files[1])
    assert cfg["encoder_embed_dim"] == BEATS_WIDTH
    assert beats["encoder.pos_conv.0.weight_g"].shape == (1, 1, 128)


def test_state_keys_and_shapes_equal_the_official_modules(
    encoder: DualSpeechEncoder, ref: dict[str, np.ndarray]
) -> None:
    ours = {k: list(v.shape) for k, v in encoder.state_dict().items()}
    official = dict(zip(ref["tiny_keys"], json.loads(str(ref["tiny_shapes"])), strict=True))
    assert ours == official


def test_full_size_modules_have_the_official_keys_and_shapes() -> None:
    with gzip.open(FIXTURES / "full_size_keys.json.gz", "rt") as f:
        official = json.load(f)
    with torch.device("meta"):
        encoder = DualSpeechEncoder(OlaConfig())  # defaults: large-v3 + the published BEATs cfg
        projector = SpeechProjector(OlaConfig())
    ours = {k: list(v.shape) for k, v in encoder.state_dict().items()}
    assert ours == official
    # docs/official-ola.md §2.1, spelled out: Whisper 32 blocks of width 1280; BEATs 12 layers of 768, a
    # 320-bucket relative position table shared by all layers, the 527-way AudioSet head.
    assert ours["whisper_model.blocks.31.mlp.0.weight"] == [5120, 1280]
    assert "whisper_model.blocks.32.attn_ln.weight" not in ours
    assert "whisper_model.blocks.0.attn.key.bias" not in ours
    assert ours["beats_model.encoder.layers.11.self_attn.relative_attention_bias.weight"] == [320, 12]
    assert ours["beats_model.encoder.pos_conv.0.weight_v"] == [768, 48, 128]
    assert ours["beats_model.predictor.weight"] == [527, 768]
    layers = encoder.beats_model.encoder.layers
    assert layers[0].self_attn.relative_attention_bias is layers[11].self_attn.relative_attention_bias
    shapes = {k: list(v.shape) for k, v in projector.state_dict().items()}
    assert shapes["linear1.weight"] == [2048, 20480] and shapes["linear2.weight"] == [3584, 2048]
    assert shapes["speech_begin"] == [3584]


def test_full_size_constants_describe_the_official_files() -> None:
    assert WHISPER_LARGE_V3_DIMS["n_audio_state"] + BEATS_AS2M_CPT2_CFG["encoder_embed_dim"] == 2048
    assert OlaConfig().speech_encoder_hidden_size == 2048


# --- numerics at fp32 ----------------------------------------------------------------------------


def test_fbank_matches_kaldi_compliance(ref: dict[str, np.ndarray]) -> None:
    # Not bit-identical across CPUs: the FFT kernels differ (measured 1.1e-5 on log-energies up to
    # ~20, fixture README); the bound is 4x that.
    wav = torch.from_numpy(chunks(signal(5, 1)))
    segment = Beats.fbank(wav[:, 16000:24000])[0]  # 0.5 s in full
    assert_close(segment, ref["fbank_segment"], atol=5e-5)
    chunk = Beats.fbank(wav)[0]
    assert list(chunk.shape) == list(ref["fbank_chunk_shape"]) == [2998, 128]
    assert_close(chunk[::STRIDE], ref["fbank_chunk_rows"], atol=5e-5)
    assert_close(chunk.double().sum(0), ref["fbank_chunk_colsum"], atol=2e-3)  # measured 2.7e-4


def test_fbank_frames_snip_the_edges() -> None:
    for samples in (400, 559, 560, 16000):
        assert kaldi_fbank(torch.zeros(samples)).shape == (1 + (samples - 400) // 160, 128)
    silence = kaldi_fbank(torch.zeros(1000))
    assert torch.all(silence == torch.log(torch.tensor(torch.finfo(torch.float32).eps)))
    with pytest.raises(ValueError, match="shorter than one 25 ms frame"):
        kaldi_fbank(torch.zeros(399))


def test_whisper_encoder_equals_official(encoder: DualSpeechEncoder, ref: dict[str, np.ndarray]) -> None:
    mels = torch.from_numpy(fake_mels(1, 3))
    with torch.no_grad():
        out = encoder.whisper_model(mels.transpose(1, 2))
    assert out.shape == (1, 1500, WHISPER_WIDTH)
    assert_close(out[:, ::STRIDE], ref["whisper_5s_rows"], atol=1e-5)
    assert_close(out.double().sum((1, 2)), ref["whisper_5s_sum"], atol=1e-3)


def test_beats_equals_official(encoder: DualSpeechEncoder, ref: dict[str, np.ndarray]) -> None:
    wavs = torch.from_numpy(chunks(signal(5, 1)))
    with torch.no_grad():
        out = encoder.beats_model(wavs)
    assert list(out.shape) == list(ref["beats_5s_shape"]) == [1, 1496, BEATS_WIDTH]
    assert_close(out[:, ::STRIDE], ref["beats_5s_rows"], atol=2e-5)
    assert_close(out.double().sum((1, 2)), ref["beats_5s_sum"], atol=1e-2)


def test_dual_5s_equals_official(dual_5s: torch.Tensor, ref: dict[str, np.ndarray]) -> None:
    assert list(dual_5s.shape) == list(ref["dual_5s_shape"]) == [1, 1500, 96]
    assert dual_5s.dtype == torch.float32  # the model's dtype (the official code hard-codes bf16)
    # At fp32 the halves ARE the two encoders' outputs.
    assert_close(dual_5s[:, ::STRIDE, :WHISPER_WIDTH], ref["whisper_5s_rows"], atol=1e-5)
    assert_close(dual_5s[:, :1496:STRIDE, WHISPER_WIDTH:], ref["beats_5s_rows"], atol=2e-5)
    assert torch.all(dual_5s[:, 1496:, WHISPER_WIDTH:] == 0)  # BEATs right-padded to 1500 frames
    # The official output is bf16: ours rounded the same way agrees to one bf16 step at most.
    assert_close(dual_5s[:, ::STRIDE].bfloat16().float(), ref["dual_5s_rows"], atol=1e-5, rtol=2**-7)
    assert_close(dual_5s[:, 1490:].bfloat16().float(), ref["dual_5s_tail"], atol=1e-5, rtol=2**-7)


def test_dual_70s_three_chunks_equals_official(dual_70s: torch.Tensor, ref: dict[str, np.ndarray]) -> None:
    assert list(dual_70s.shape) == list(ref["dual_70s_shape"]) == [3, 1500, 96]
    assert_close(dual_70s[:, ::STRIDE, :WHISPER_WIDTH], ref["whisper_70s_rows"], atol=1e-5)
    assert_close(dual_70s[..., :WHISPER_WIDTH].double().sum((1, 2)), ref["whisper_70s_sum"], atol=1e-3)
    # BEATs fp32: measured 2.3e-5 between CPUs (fixture README); 4x allowed.
    assert_close(dual_70s[:, :1496:STRIDE, WHISPER_WIDTH:], ref["beats_70s_rows"], atol=1e-4)
    assert_close(dual_70s[..., WHISPER_WIDTH:].double().sum((1, 2)), ref["beats_70s_sum"], atol=1e-2)
    assert_close(dual_70s[:, 1490:].bfloat16().float(), ref["dual_70s_tail"], atol=1e-5, rtol=2**-7)


def test_projector_equals_official(ref: dict[str, np.ndarray]) -> None:
    projector = SpeechProjector(tiny_config())
    params = projector_params(960, 64, seed=5)
    projector.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    x = torch.from_numpy(np.random.RandomState(6).standard_normal((3, 1500, 96)).astype(np.float32))
    with torch.no_grad():
        out = projector(x)
        odd = projector(x[:1, :1497])  # 7 trailing frames do not fill a group of 10: dropped
    assert list(out.shape) == list(ref["projector_shape"]) == [2 + 151 * 3, 64]
    assert_close(out[::7], ref["projector_rows"], atol=1e-5)
    assert_close(out.double().sum(), ref["projector_sum"], atol=1e-3)
    assert list(odd.shape) == list(ref["projector_odd_shape"]) == [2 + 150, 64]
    assert_close(odd.double().sum(), ref["projector_odd_sum"], atol=1e-3)
    # begin, then 150 frames + newline per chunk, then end
    assert torch.equal(out[0], projector.speech_begin.detach())
    for chunk in range(3):
        assert torch.equal(out[1 + 151 * chunk + 150], projector.speech_newline.detach())
    assert torch.equal(out[-1], projector.speech_end.detach())


# --- the deployed bf16 numerics ------------------------------------------------------------------


def test_bf16_load_reproduces_the_official_effective_weights_and_output(
    tiny_files: tuple[Path, Path], ref: dict[str, np.ndarray]
) -> None:
    encoder = DualSpeechEncoder.from_files(tiny_config(), *tiny_files, dtype=torch.bfloat16)
    beats = encoder.beats_model.state_dict()
    assert {v.dtype for v in beats.values()} == {torch.float32}
    # float(bf16(fp16(w))): the official loader's cast chain, tensor by tensor, exactly.
    sums = [beats[k].double().sum().item() for k in ref["beats_bf16_effective_keys"]]
    assert_close(sums, ref["beats_bf16_effective_sum"], atol=0)
    whisper = encoder.whisper_model.state_dict()
    assert {v.dtype for v in whisper.values()} == {torch.bfloat16}
    assert_close(
        [v.double().sum().item() for v in whisper.values()], ref["whisper_bf16_effective_sum"], atol=0
    )
    out = encoder(torch.from_numpy(fake_mels(1, 3)), torch.from_numpy(chunks(signal(5, 1))))
    assert out.dtype == torch.bfloat16
    # 2x the spread measured between CPUs (0.0156, one or two bf16 steps; fixture README).
    assert_close(out[:, ::STRIDE].float(), ref["dual_bf16_5s_rows"], atol=2**-5)


def test_beats_is_refloated_after_a_model_wide_cast(tiny_files: tuple[Path, Path]) -> None:
    encoder = DualSpeechEncoder.from_files(tiny_config(), *tiny_files, dtype=torch.bfloat16)
    before = {k: v.clone() for k, v in encoder.beats_model.state_dict().items()}
    encoder.to(torch.bfloat16)  # what a caller casting the whole model does
    encoder(torch.zeros(1, 3000, 128), torch.zeros(1, 480000))
    after = encoder.beats_model.state_dict()
    assert all(after[k].dtype == torch.float32 and torch.equal(after[k], v) for k, v in before.items())


# --- errors a user can meet ----------------------------------------------------------------------


def test_missing_file_says_which_and_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ModelFilesMissingError, match=r"large-v3\.pt.*does not exist.*Ola_speech_encoders"):
        load_whisper_encoder_state(tmp_path / "large-v3.pt")
    with pytest.raises(ModelFilesMissingError, match="BEATs"):
        load_beats_state(tmp_path / "beats.pt")


def test_truncated_file_is_reported_as_corrupt(tiny_files: tuple[Path, Path], tmp_path: Path) -> None:
    broken = tmp_path / "large-v3.pt"
    broken.write_bytes(tiny_files[0].read_bytes()[:100_000])
    with pytest.raises(CorruptModelFileError, match=r"truncated.*download it again"):
        load_whisper_encoder_state(broken)


def test_swapped_files_are_reported_as_wrong_files(tiny_files: tuple[Path, Path]) -> None:
    with pytest.raises(CorruptModelFileError, match="not an openai-whisper checkpoint"):
        load_whisper_encoder_state(tiny_files[1])
    with pytest.raises(CorruptModelFileError, match="not a BEATs checkpoint"):
        load_beats_state(tiny_files[0])


def test_file_with_code_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "beats.pt"
    torch.save({"cfg": {"callback": Path("/etc/passwd")}, "model": {}}, path)  # not plain data
    with pytest.raises(CorruptModelFileError, match="cannot be read"):
        load_beats_state(path)


def test_file_missing_encoder_weights_is_reported(tiny_files: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint = torch.load(tiny_files[0], weights_only=True)
    del checkpoint["model_state_dict"]["encoder.blocks.1.attn.query.weight"]
    path = tmp_path / "large-v3.pt"
    torch.save(checkpoint, path)
    with pytest.raises(CorruptModelFileError, match=r"missing \['blocks\.1\.attn\.query\.weight'\]"):
        load_whisper_encoder_state(path)


def test_encoder_files_that_do_not_fit_the_model_are_refused(tiny_files: tuple[Path, Path]) -> None:
    with pytest.raises(CorruptModelFileError, match="96-wide features but the model expects 2048"):
        DualSpeechEncoder.from_files(tiny_config(speech_encoder_hidden_size=2048), *tiny_files)


def test_unknown_beats_variant_is_refused(tiny_files: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint = torch.load(tiny_files[1], weights_only=True)
    checkpoint["cfg"]["layer_norm_first"] = True
    path = tmp_path / "beats.pt"
    torch.save(checkpoint, path)
    with pytest.raises(CorruptModelFileError, match="variant"):
        load_beats_state(path)


def test_legacy_non_zip_checkpoint_still_loads(tiny_files: tuple[Path, Path], tmp_path: Path) -> None:
    # Older torch.save files cannot be memory-mapped; the loader falls back to a plain read.
    path = tmp_path / "large-v3.pt"
    torch.save(torch.load(tiny_files[0], weights_only=True), path, _use_new_zipfile_serialization=False)
    dims, state = load_whisper_encoder_state(path)
    assert dims["n_audio_layer"] == 2 and torch.equal(
        state["ln_post.weight"], load_whisper_encoder_state(tiny_files[0])[1]["ln_post.weight"]
    )


def test_config_fields_size_the_encoder_when_no_files_are_given() -> None:
    # What from_pretrained does: build from the config alone, on the meta device.
    config = tiny_config(speech_whisper_dims=TINY_WHISPER_DIMS, speech_beats_cfg=TINY_BEATS_CFG)
    with torch.device("meta"):
        encoder = DualSpeechEncoder(config)
    assert encoder.whisper_model.ln_post.normalized_shape == (WHISPER_WIDTH,)
    assert encoder.beats_model.config.encoder_embed_dim == BEATS_WIDTH
    # Tiny Whisper beside the full-size BEATs (no cfg given): 64 + 768 does not fit 96.
    with (
        pytest.raises(CorruptModelFileError, match="832-wide features but the model expects 96"),
        torch.device("meta"),
    ):
        DualSpeechEncoder(tiny_config(speech_whisper_dims=TINY_WHISPER_DIMS))


def test_malformed_speech_input_is_a_media_error(encoder: DualSpeechEncoder) -> None:
    with pytest.raises(MediaError, match=r"got mels \(1, 2999, 128\)"):
        encoder(torch.zeros(1, 2999, 128), torch.zeros(1, 480000))
    with pytest.raises(MediaError, match="waveforms"):
        encoder(torch.zeros(2, 3000, 128), torch.zeros(1, 480000))
