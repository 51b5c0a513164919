"""load_ola: finding files, the official vocab resize, progress, and one test per user-facing error."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from ola_core.errors import (
    CorruptModelFileError,
    DeviceUnavailableError,
    InsufficientMemoryError,
    ModelFilesMissingError,
    NotAnOlaModelError,
)
from ola_core.model import loading
from ola_core.model.configuration import OlaConfig
from ola_core.model.encoder_files import load_beats_state, load_whisper_encoder_state
from ola_core.model.loading import QUANTIZATION_SKIP_MODULES, LoadedOla, load_ola
from ola_core.model.locator import find_encoder_files
from ola_core.model.memory import RUNTIME_MARGIN_BYTES, estimate_memory_bytes
from ola_core.model.tiny import TinyCheckpoint


def test_loaded_tiny_model(tiny_checkpoint: TinyCheckpoint, tiny_fp32: LoadedOla) -> None:
    model = tiny_fp32.model
    assert tiny_fp32.device == torch.device("cpu") and tiny_fp32.dtype == torch.float32
    assert not model.training and not model.model.speech_encoder.training
    # Official vocab resize: the 384-row matrices shrink to len(tokenizer), first rows kept.
    n = len(tiny_fp32.tokenizer)
    assert n < 384
    assert model.get_input_embeddings().weight.shape[0] == n
    assert model.lm_head.weight.shape[0] == n and model.config.vocab_size == n
    from safetensors import safe_open

    index = json.loads((tiny_checkpoint.model_dir / "model.safetensors.index.json").read_text())
    shard = tiny_checkpoint.model_dir / index["weight_map"]["lm_head.weight"]
    with safe_open(str(shard), framework="pt") as f:
        stored = f.get_tensor("lm_head.weight")
    assert torch.equal(model.lm_head.weight, stored[:n].float())
    # The official sampling defaults come with the model.
    generation = tiny_fp32.generation_config
    assert (generation.top_k, generation.top_p, generation.temperature) == (20, 0.8, 0.7)
    assert generation.repetition_penalty == 1.05
    im_end, endoftext = tiny_fp32.tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    assert generation.eos_token_id == [im_end, endoftext]


def test_speech_encoder_weights_come_from_the_pt_files(tiny_copy: TinyCheckpoint) -> None:
    """The official loader rebuilds the encoders from the .pt files; the safetensors copy is ignored."""
    from safetensors.torch import load_file, save_file

    index = json.loads((tiny_copy.model_dir / "model.safetensors.index.json").read_text())
    key = "model.speech_encoder.whisper_model.conv1.weight"
    shard = tiny_copy.model_dir / index["weight_map"][key]
    tensors = load_file(str(shard))
    tensors[key] = torch.zeros_like(tensors[key])
    save_file(tensors, str(shard), metadata={"format": "pt"})
    _, from_file = load_whisper_encoder_state(tiny_copy.speech_encoder_path)
    loaded = load_ola(tiny_copy.model_dir, device="cpu", dtype=torch.float32)
    conv1 = loaded.model.model.speech_encoder.whisper_model.conv1.weight
    assert torch.equal(conv1, from_file["conv1.weight"].float())


def test_shards_without_the_encoder_copy_load_quietly(
    tiny_copy: TinyCheckpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Whether or not the shards carry the encoders' copy, the .pt files provide them."""
    from safetensors.torch import load_file, save_file

    index_path = tiny_copy.model_dir / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    for shard in set(index["weight_map"].values()):
        tensors = load_file(str(tiny_copy.model_dir / shard))
        kept = {k: v for k, v in tensors.items() if not k.startswith("model.speech_encoder.")}
        save_file(kept, str(tiny_copy.model_dir / shard), metadata={"format": "pt"})
    index["weight_map"] = {
        k: v for k, v in index["weight_map"].items() if not k.startswith("model.speech_encoder.")
    }
    index_path.write_text(json.dumps(index))
    loaded = load_ola(tiny_copy.model_dir, device="cpu", dtype=torch.float32)
    assert "MISSING" not in caplog.text
    _, beats = load_beats_state(tiny_copy.music_encoder_path)
    weight = loaded.model.model.speech_encoder.beats_model.post_extract_proj.weight
    assert torch.equal(weight, beats["post_extract_proj.weight"].half().float())


def test_progress_is_reported_in_order(tiny_checkpoint: TinyCheckpoint) -> None:
    reports: list[tuple[float, str]] = []
    load_ola(
        tiny_checkpoint.model_dir,
        device="cpu",
        dtype=torch.float32,
        progress=lambda f, m: reports.append((f, m)),
    )
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(reports) >= 4 and all(message for _, message in reports)
    weights = [(f, m) for f, m in reports if m.startswith("Loading weights")]
    assert len(weights) >= 10
    done, total = re.search(r"\((\d+)/(\d+) tensors\)", weights[-1][1]).groups()  # type: ignore[union-attr]
    assert done == total and int(total) > 100


def test_auto_classes_open_an_ola_folder(tiny_checkpoint: TinyCheckpoint) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    from ola_core.model.modeling import OlaForCausalLM, register_auto_classes

    register_auto_classes()
    config = AutoConfig.from_pretrained(tiny_checkpoint.model_dir)
    assert isinstance(config, OlaConfig) and config.speech_encoder_ds_rate == 10
    # As officially, the encoders' sizes are only in their files: a plain from_pretrained needs them.
    files = find_encoder_files(tiny_checkpoint.model_dir)
    config.speech_whisper_dims = load_whisper_encoder_state(files.whisper)[0]
    config.speech_beats_cfg = load_beats_state(files.beats)[0]
    model = AutoModelForCausalLM.from_pretrained(
        tiny_checkpoint.model_dir, config=config, dtype=torch.float32
    )
    assert isinstance(model, OlaForCausalLM)


# --- finding the encoder files -------------------------------------------------------------------


def test_encoders_found_in_sibling_folder_not_at_config_paths(
    tiny_copy: TinyCheckpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config.json names ./pretrained/large-v3.pt: a decoy there must never be used."""
    decoy = tmp_path / "pretrained"
    decoy.mkdir()
    (decoy / "large-v3.pt").write_bytes(b"not a checkpoint")
    monkeypatch.chdir(tmp_path)
    assert (
        json.loads((tiny_copy.model_dir / "config.json").read_text())["speech_encoder"]
        == "./pretrained/large-v3.pt"
    )
    found = find_encoder_files(tiny_copy.model_dir)
    assert found.whisper == tiny_copy.speech_encoder_path and found.beats == tiny_copy.music_encoder_path


def test_encoders_found_beside_the_checkpoint(tiny_copy: TinyCheckpoint) -> None:
    for path in (tiny_copy.speech_encoder_path, tiny_copy.music_encoder_path):
        shutil.move(path, tiny_copy.model_dir / path.name)
    found = find_encoder_files(tiny_copy.model_dir)
    assert found.whisper == tiny_copy.model_dir / "large-v3.pt"
    assert found.beats.parent == tiny_copy.model_dir


def test_explicit_encoder_paths_win(tiny_copy: TinyCheckpoint, tmp_path: Path) -> None:
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    whisper = shutil.copy(tiny_copy.speech_encoder_path, elsewhere / "whisper.pt")
    found = find_encoder_files(tiny_copy.model_dir, speech_encoder=whisper)
    assert found.whisper == Path(whisper) and found.beats == tiny_copy.music_encoder_path
    with pytest.raises(ModelFilesMissingError, match="does not exist"):
        find_encoder_files(tiny_copy.model_dir, music_encoder=elsewhere / "nope.pt")


def test_encoders_found_in_hf_cache(
    tiny_copy: TinyCheckpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    repo = cache / "models--THUdyh--Ola_speech_encoders"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    for path in (tiny_copy.speech_encoder_path, tiny_copy.music_encoder_path):
        shutil.move(path, snapshot / path.name)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    found = find_encoder_files(tiny_copy.model_dir)
    assert found.whisper == snapshot / "large-v3.pt"
    loaded = load_ola(tiny_copy.model_dir, device="cpu", dtype=torch.float32)
    assert loaded.model.model.speech_encoder.whisper_model.conv1.weight.shape[0] == 64


def test_missing_encoder_says_which_and_where(tiny_copy: TinyCheckpoint) -> None:
    tiny_copy.music_encoder_path.unlink()
    with pytest.raises(ModelFilesMissingError) as error:
        load_ola(tiny_copy.model_dir, device="cpu")
    message = str(error.value)
    assert "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt" in message
    assert str(tiny_copy.model_dir.parent / "Ola_speech_encoders") in message
    assert "Hugging Face cache" in message and "Download" in message


# --- errors, one per failure a user can meet ------------------------------------------------------


def test_missing_folder_and_config(tmp_path: Path) -> None:
    with pytest.raises(ModelFilesMissingError, match="does not exist"):
        load_ola(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFilesMissingError, match=r"config\.json is missing"):
        load_ola(tmp_path / "empty")


def test_not_an_ola_config(tiny_copy: TinyCheckpoint) -> None:
    config_path = tiny_copy.model_dir / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "model_type": "qwen2"}))
    with pytest.raises(NotAnOlaModelError, match="qwen2 model, not Ola"):
        load_ola(tiny_copy.model_dir)
    plain = {k: v for k, v in config.items() if not k.startswith(("mm_", "speech_"))}
    config_path.write_text(json.dumps(plain))
    with pytest.raises(NotAnOlaModelError, match="THUdyh/Ola-7b"):
        load_ola(tiny_copy.model_dir)
    config_path.write_text("{ not json")
    with pytest.raises(CorruptModelFileError, match="not valid JSON"):
        load_ola(tiny_copy.model_dir)


def test_missing_shard(tiny_copy: TinyCheckpoint) -> None:
    shard = sorted(tiny_copy.model_dir.glob("model-*.safetensors"))[-1]
    shard.unlink()
    with pytest.raises(ModelFilesMissingError, match=rf"{shard.name}.*download did not finish"):
        load_ola(tiny_copy.model_dir)


def test_truncated_shard(tiny_copy: TinyCheckpoint) -> None:
    shard = sorted(tiny_copy.model_dir.glob("model-*.safetensors"))[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptModelFileError, match=rf"{shard.name} cannot be used: it is truncated"):
        load_ola(tiny_copy.model_dir)


def test_corrupt_shard_header(tiny_copy: TinyCheckpoint) -> None:
    shard = sorted(tiny_copy.model_dir.glob("model-*.safetensors"))[0]
    data = bytearray(shard.read_bytes())
    data[8:20] = b"\x00garbage!!\xff\xfe"
    shard.write_bytes(bytes(data))
    with pytest.raises(CorruptModelFileError, match="header is damaged"):
        load_ola(tiny_copy.model_dir)
    shard.write_bytes(b"\x01\x02")
    with pytest.raises(CorruptModelFileError, match="empty or cut short"):
        load_ola(tiny_copy.model_dir)


def test_corrupt_encoder_file(tiny_copy: TinyCheckpoint) -> None:
    data = tiny_copy.speech_encoder_path.read_bytes()
    tiny_copy.speech_encoder_path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptModelFileError, match=r"large-v3\.pt"):
        load_ola(tiny_copy.model_dir, device="cpu")


def test_missing_tokenizer(tiny_copy: TinyCheckpoint) -> None:
    for name in ("tokenizer.json", "vocab.json"):
        (tiny_copy.model_dir / name).unlink()
    with pytest.raises(ModelFilesMissingError, match="tokenizer"):
        load_ola(tiny_copy.model_dir)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_requested_but_absent(tiny_checkpoint: TinyCheckpoint) -> None:
    with pytest.raises(DeviceUnavailableError, match=r"CUDA GPU was requested.*Choose the CPU"):
        load_ola(tiny_checkpoint.model_dir, device="cuda")


def test_not_enough_gpu_memory_is_refused_before_loading(
    tiny_checkpoint: TinyCheckpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU with 0.5 GiB free: refused from the estimate, before any weight is read."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2**29, 8 * 2**30))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Test GPU")

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("weights were read before the memory check")

    monkeypatch.setattr(loading, "_load_model", no_loading)
    with pytest.raises(InsufficientMemoryError, match=r"needs about 0\.8 GB.*only 0\.5 of 8\.0 GB.*NF4"):
        load_ola(tiny_checkpoint.model_dir, device="cuda")


def test_memory_estimate_of_full_size_ola() -> None:
    """Full Ola-7B weights: bf16 ≈ 17.95 GB; NF4 on the LLM layers ≈ 8.3 GB (the rest stays bf16)."""
    config = OlaConfig()
    gb = 2**30
    bf16 = estimate_memory_bytes(config, "none", torch.bfloat16) - RUNTIME_MARGIN_BYTES
    nf4 = estimate_memory_bytes(config, "nf4", torch.bfloat16) - RUNTIME_MARGIN_BYTES
    int8 = estimate_memory_bytes(config, "int8", torch.bfloat16) - RUNTIME_MARGIN_BYTES
    assert 16.4 < bf16 / gb < 16.8  # 8.79 B bf16 params + 90.8 M BEATs fp32 = 17.95 GB = 16.7 GiB
    assert nf4 < int8 < bf16
    assert 7.6 < nf4 / gb < 7.9  # 6.53 B params × 0.53 B + 2.26 B × 2 B + BEATs 0.36 GB = 8.34 GB


def test_skip_list_keeps_every_non_llm_linear_unquantized() -> None:
    """transformers 5 matches skip names from the start of the module path: check every Linear."""
    from transformers.quantizers.quantizers_utils import should_convert_module

    from ola_core.model.modeling import OlaForCausalLM
    from ola_core.model.tiny import TINY_LLM, TINY_VISION

    config = OlaConfig(**TINY_LLM, **TINY_VISION, vocab_size=64)
    with torch.device("meta"):
        model = OlaForCausalLM(config)
    converted = {
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and should_convert_module(name, QUANTIZATION_SKIP_MODULES)
    }
    assert converted and all(name.startswith("model.layers.") for name in converted)


def test_default_dtype_is_bf16_on_cuda_fp32_on_cpu(tiny_checkpoint: TinyCheckpoint) -> None:
    loaded = load_ola(os.fspath(tiny_checkpoint.model_dir), device="auto")
    on_cuda = torch.cuda.is_available()
    assert loaded.device.type == ("cuda" if on_cuda else "cpu")
    assert loaded.dtype == (torch.bfloat16 if on_cuda else torch.float32)
    assert loaded.model.lm_head.weight.dtype == loaded.dtype
