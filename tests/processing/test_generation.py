"""Generation settings: the official effective decoding, on a tiny random Qwen2 language model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

from ola_core.errors import CorruptModelFileError
from ola_core.processing.generation import DecodingSettings

# THUdyh/Ola-7b generation_config.json (docs/official-ola.md §4.4).
OFFICIAL_FILE = {
    "attn_implementation": "flash_attention_2",
    "bos_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "pad_token_id": 151643,
    "repetition_penalty": 1.05,
    "temperature": 0.7,
    "top_k": 20,
    "top_p": 0.8,
}


@pytest.fixture(scope="module")
def tiny_lm() -> Qwen2ForCausalLM:
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
    )
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(40)  # peaked logits, so that the penalty changes some argmaxes
    # The checkpoint's own file, whose top_p 0.8 / temperature 0.7 must not leak into our runs.
    model.generation_config = GenerationConfig(
        **{k: v for k, v in OFFICIAL_FILE.items() if k != "attn_implementation"}
    )
    return model


def test_defaults_are_the_official_effective_ones() -> None:
    settings = DecodingSettings()
    assert (settings.temperature, settings.top_k, settings.top_p) == (0.2, 20, 1.0)
    assert settings.repetition_penalty == 1.05
    assert settings.eos_token_ids == (151645, 151643)
    config = settings.to_generation_config()
    assert config.do_sample and config.num_beams == 1 and config.max_new_tokens == 1024


def test_from_checkpoint_reads_the_file_but_keeps_infer_py_temperature(tmp_path: Path) -> None:
    (tmp_path / "generation_config.json").write_text(
        json.dumps({**OFFICIAL_FILE, "top_k": 7, "eos_token_id": 5, "pad_token_id": 3})
    )
    settings = DecodingSettings.from_checkpoint(tmp_path, max_new_tokens=64)
    assert settings.top_k == 7 and settings.eos_token_ids == (5,) and settings.pad_token_id == 3
    assert settings.temperature == 0.2 and settings.top_p == 1.0 and settings.max_new_tokens == 64
    assert DecodingSettings.from_checkpoint(tmp_path / "absent") == DecodingSettings()
    (tmp_path / "generation_config.json").write_text("{not json")
    with pytest.raises(CorruptModelFileError, match=r"generation_config\.json"):
        DecodingSettings.from_checkpoint(tmp_path)


def test_the_checkpoints_top_p_does_not_come_back(tiny_lm: Qwen2ForCausalLM) -> None:
    """transformers fills unset fields from the model's file; every field must be set explicitly."""
    for settings in (DecodingSettings(), DecodingSettings(greedy=True)):
        merged, _ = tiny_lm._prepare_generation_config(settings.to_generation_config())
        assert merged.top_p == 1.0
        assert merged.repetition_penalty == 1.05
        assert merged.do_sample is not settings.greedy


def penalised_argmax(model: Qwen2ForCausalLM, embeds: torch.Tensor, steps: int, penalty: float) -> list[int]:
    """The official greedy call by hand: argmax after the repetition penalty on generated ids only."""
    generated: list[int] = []
    with torch.no_grad():
        for _ in range(steps):
            inputs = embeds
            if generated:
                inputs = torch.cat([embeds, model.get_input_embeddings()(torch.tensor([generated]))], dim=1)
            scores = model(inputs_embeds=inputs).logits[0, -1].float()
            for token in set(generated):
                scores[token] = scores[token] / penalty if scores[token] > 0 else scores[token] * penalty
            generated.append(int(scores.argmax()))
    return generated


@pytest.mark.filterwarnings(
    "ignore:Passing `repetition_penalty` with `inputs_embeds`"
)  # the official behaviour
def test_greedy_is_argmax_after_the_repetition_penalty(tiny_lm: Qwen2ForCausalLM) -> None:
    torch.manual_seed(1)
    embeds = torch.randn(1, 5, 32)
    steps = 12
    settings = DecodingSettings(greedy=True, max_new_tokens=steps, eos_token_ids=(99,), pad_token_id=0)
    with torch.no_grad():
        out = tiny_lm.generate(
            inputs_embeds=embeds,
            attention_mask=torch.ones(1, 5, dtype=torch.long),
            generation_config=settings.to_generation_config(),
        )
    assert out[0].tolist() == penalised_argmax(tiny_lm, embeds, steps, 1.05)
    # ...and the penalty matters for this model: plain argmax differs.
    assert out[0].tolist() != penalised_argmax(tiny_lm, embeds, steps, 1.0)


@pytest.mark.filterwarnings(
    "ignore:Passing `repetition_penalty` with `inputs_embeds`"
)  # the official behaviour
def test_sampling_draws_only_from_the_top_k(tiny_lm: Qwen2ForCausalLM) -> None:
    torch.manual_seed(2)
    embeds = torch.randn(1, 4, 32)
    with torch.no_grad():
        scores = tiny_lm(inputs_embeds=embeds).logits[0, -1]
    allowed = set(scores.topk(3).indices.tolist())
    config = DecodingSettings(top_k=3, temperature=5.0, max_new_tokens=1, eos_token_ids=(99,), pad_token_id=0)
    drawn = set()
    for seed in range(25):
        torch.manual_seed(seed)
        with torch.no_grad():
            out = tiny_lm.generate(
                inputs_embeds=embeds,
                attention_mask=torch.ones(1, 4, dtype=torch.long),
                generation_config=config.to_generation_config(),
            )
        drawn.add(int(out[0, -1]))
    assert drawn <= allowed and len(drawn) > 1  # sampled (not argmax), never outside the top 3
