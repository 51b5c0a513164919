"""Memory profiles (issue 15): exact bytes from the real module types, levers that keep outputs close."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ola_core.model.configuration import OlaConfig
from ola_core.model.levers import CpuEmbedding, parameter_bytes, quantize_linears
from ola_core.model.loading import LoadedOla, load_ola
from ola_core.model.memory import RUNTIME_MARGIN_BYTES, estimate_memory_bytes
from ola_core.model.profile_quality import encoder_errors, logit_agreement
from ola_core.model.profiles import (
    GIB,
    PROFILES,
    account_ola,
    custom_profile,
    part_bytes,
    pick_profile,
    profile_for,
    resolve_profile,
)
from ola_core.model.tiny import TinyCheckpoint
from ola_core.speech.cosyvoice.memory import cosyvoice_bytes


@pytest.mark.parametrize("kind", ["nf4", "int8"])
@pytest.mark.parametrize("shape", [(128, 256), (300, 77), (896, 4864)])
def test_meta_sizes_equal_what_bitsandbytes_stores(kind: str, shape: tuple[int, int]) -> None:
    """The size counted before quantizing (as on meta) equals the bytes after bitsandbytes quantized on CPU."""
    holder = nn.Sequential(nn.Linear(shape[1], shape[0]))
    quantize_linears(holder, kind, torch.float32)  # type: ignore[arg-type]
    counted = parameter_bytes(holder[0])
    holder.to("cpu")  # bitsandbytes quantizes here
    weight = holder[0].weight
    assert weight.dtype == (torch.uint8 if kind == "nf4" else torch.int8)
    assert counted == parameter_bytes(holder[0])


@pytest.fixture(scope="module")
def full_size_accounts() -> dict[str, object]:
    return {
        name: account_ola(
            OlaConfig(),
            profile,
            voice_bytes=cosyvoice_bytes(profile.cosyvoice_lm_dtype, profile.cosyvoice_flow_dtype),
        )
        for name, profile in PROFILES.items()
    }


def test_full_size_bytes_of_every_part_in_every_profile(full_size_accounts: dict) -> None:
    gb = 1e9
    eight, twelve, full = (full_size_accounts[n] for n in ("8gb", "12gb", "24gb"))
    assert eight.ola_weight_bytes <= 5.8 * gb  # the bound for the 8 GB profile
    assert eight.cpu["embed_tokens"] == twelve.cpu["embed_tokens"] == full.gpu["embed_tokens"]
    assert "embed_tokens" not in eight.gpu and "embed_tokens" not in twelve.gpu
    # int8 lm_head: one byte per weight + one fp32 scale per row, half of bf16.
    assert eight.gpu["lm_head"] == 152064 * 3584 + 4 * 152064 == full.gpu["lm_head"] // 2 + 4 * 152064
    assert eight.gpu["beats"] * 2 == full.gpu["beats"]  # bf16 vs fp32
    assert (
        eight.gpu["whisper"] < 0.55 * full.gpu["whisper"] and eight.gpu["vision"] < 0.55 * full.gpu["vision"]
    )
    assert eight.gpu["llm_layers"] == twelve.gpu["llm_layers"] < 0.27 * full.gpu["llm_layers"]
    assert 17.9 * gb < full.ola_weight_bytes < 18.0 * gb  # bf16 throughout, BEATs fp32 as officially
    for account, profile in ((eight, PROFILES["8gb"]), (twelve, PROFILES["12gb"])):
        limit = account.context_limit(int(profile.peak_gib * GIB))
        assert limit >= profile.target_context  # the target context fits under the profile's peak
        assert account.required_bytes(profile.target_context) <= profile.peak_gib * GIB


def test_the_loader_checks_the_same_estimate(full_size_accounts: dict) -> None:
    """One estimate: without a profile the LLM-layer quantization alone, counted the same way."""
    nf4 = estimate_memory_bytes(OlaConfig(), "nf4", torch.bfloat16) - RUNTIME_MARGIN_BYTES
    twelve = full_size_accounts["12gb"]
    assert nf4 == twelve.ola_weight_bytes + twelve.cpu["embed_tokens"]


def test_profile_is_picked_from_free_memory_and_can_be_overridden() -> None:
    assert pick_profile(int(7.6 * GIB)).name == "8gb"  # RTX 4060: 8 GB card
    assert pick_profile(int(11.2 * GIB)).name == "12gb"
    assert pick_profile(int(23.0 * GIB)).name == "24gb"
    assert profile_for("8gb", int(80 * GIB)).name == "8gb"
    with pytest.raises(ValueError, match="unknown memory profile"):
        profile_for("6gb", None)


@pytest.fixture(scope="module")
def reference(tiny_checkpoint: TinyCheckpoint) -> LoadedOla:
    return load_ola(tiny_checkpoint.model_dir, device="cpu", dtype=torch.float32)


@pytest.mark.parametrize("name", ["8gb", "12gb"])
def test_levers_on_the_tiny_checkpoint_keep_outputs_close(
    name: str, tiny_checkpoint: TinyCheckpoint, reference: LoadedOla
) -> None:
    import bitsandbytes as bnb

    loaded = load_ola(tiny_checkpoint.model_dir, device="cpu", dtype=torch.float32, profile=PROFILES[name])
    model = loaded.model
    embed = model.get_input_embeddings()
    assert isinstance(embed, CpuEmbedding) and "model.embed_tokens.weight" not in model.state_dict()
    assert isinstance(model.model.layers[0].mlp.down_proj, bnb.nn.Linear4bit)
    assert isinstance(model.lm_head, bnb.nn.Linear8bitLt) == (name == "8gb")
    whisper_linear = next(
        m for m in model.model.speech_encoder.whisper_model.modules() if isinstance(m, nn.Linear)
    )
    assert isinstance(whisper_linear, bnb.nn.Linear8bitLt) == (name == "8gb")
    gpu, cpu = part_bytes(model)
    assert cpu["embed_tokens"] > 0 and "embed_tokens" not in gpu
    # The CPU-kept rows are exactly the table's rows.
    ids = torch.tensor([[1, 5, 9]])
    assert torch.equal(embed(ids), reference.model.get_input_embeddings()(ids))
    quality = logit_agreement(reference.model, model, torch.arange(1, 9)[None], steps=200)
    assert quality["teacher_forced_top1_agreement"] >= 0.95
    assert quality["free_run_agreement"] >= 0.9
    assert quality["logit_mean_abs_delta"] < 0.25 * quality["logit_scale"]
    errors = encoder_errors(reference.model, model)
    assert errors["vision_relative_error"] < 0.05
    if name == "12gb":  # no encoder lever: identical
        assert errors["speech_encoder_relative_error"] == 0.0


def test_the_profile_setting_resolves_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    from ola_core.model import profiles

    assert resolve_profile("custom", "int8", "auto") == custom_profile("int8")
    assert resolve_profile("12gb", "nf4", "cpu") is PROFILES["12gb"]  # by name, even on the CPU
    assert resolve_profile("auto", "nf4", "cpu") is None  # the CPU keeps the quantization setting
    monkeypatch.setattr(profiles.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(profiles, "free_gpu_bytes", lambda: int(9 * GIB))
    assert resolve_profile("auto", "nf4", "auto") is PROFILES["8gb"]
    monkeypatch.setattr(profiles, "free_gpu_bytes", lambda: int(30 * GIB))
    assert resolve_profile("auto", "nf4", "cuda") is PROFILES["24gb"]
    assert resolve_profile("auto", "nf4", "cpu") is None  # device cpu chosen: no profile


def test_the_settings_profile_reaches_the_loader(tiny_checkpoint: TinyCheckpoint) -> None:
    """Settings → Model → Memory profile: the assistant's engine loads with that profile's levers."""
    from ola_core.assistant.components import make_engine
    from ola_core.settings import ModelSettings, Settings

    model = ModelSettings(model_dir=str(tiny_checkpoint.model_dir), profile="12gb", device="cpu")
    engine = make_engine(Settings(model=model))
    engine.load()
    loaded = engine.loaded_model
    assert loaded is not None and loaded.profile is PROFILES["12gb"]
    assert isinstance(loaded.model.get_input_embeddings(), CpuEmbedding)  # the 12 GB profile's lever
