"""NF4 and int8 on CPU (bitsandbytes' CPU backend): only the LLM layers are quantized, it runs,
and its logits stay close to the bf16 model's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ola_core.model.loading import LoadedOla, load_ola
from ola_core.model.tiny import TinyCheckpoint
from ola_core.processing.inputs import ImageInput, PromptInputs
from ola_core.processing.tokens import IMAGE_TOKEN_INDEX

UNQUANTIZED_PREFIXES = (
    "lm_head",
    "model.vision_tower.",
    "model.mm_projector.",
    "model.speech_projector.",
    "model.speech_encoder.",
)


@pytest.fixture(scope="module")
def bf16(tiny_checkpoint: TinyCheckpoint) -> LoadedOla:
    return load_ola(tiny_checkpoint.model_dir, device="cpu", dtype=torch.bfloat16)


def image_prompt(loaded: LoadedOla) -> PromptInputs:
    g = torch.Generator().manual_seed(3)
    image = ImageInput(
        torch.rand(3, 64, 64, generator=g) * 2 - 1, torch.rand(3, 96, 128, generator=g) * 2 - 1
    )
    ids = [
        *loaded.tokenizer("Look: ").input_ids,
        IMAGE_TOKEN_INDEX,
        *loaded.tokenizer("\nWhat is it?").input_ids,
    ]
    return PromptInputs(ids, [image])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("quantization", "layer_class", "max_relative_error"),
    [("nf4", "Linear4bit", 0.3), ("int8", "Linear8bitLt", 0.05)],
)
def test_quantized_load_runs_and_stays_close(
    tiny_checkpoint: TinyCheckpoint,
    bf16: LoadedOla,
    quantization: str,
    layer_class: str,
    max_relative_error: float,
) -> None:
    # bf16 compute, as on a GPU (the CPU default would be fp32)
    loaded = load_ola(
        tiny_checkpoint.model_dir, device="cpu", quantization=quantization, dtype=torch.bfloat16
    )  # type: ignore[arg-type]
    assert loaded.quantization == quantization and loaded.dtype == torch.bfloat16

    linears = {name: type(m).__name__ for name, m in loaded.model.named_modules() if isinstance(m, nn.Linear)}
    llm = {n: c for n, c in linears.items() if n.startswith("model.layers.")}
    others = {n: c for n, c in linears.items() if n.startswith(UNQUANTIZED_PREFIXES)}
    assert len(llm) == 7 * loaded.model.config.num_hidden_layers
    assert set(llm.values()) == {layer_class}
    assert set(linears) == set(llm) | set(others)  # nothing else holds a Linear
    assert set(others.values()) == {"Linear"}, {n: c for n, c in others.items() if c != "Linear"}
    assert loaded.model.model.speech_encoder.beats_model.patch_embedding.weight.dtype == torch.float32
    assert loaded.model.model.vision_tower.dtype == torch.bfloat16

    prompt = image_prompt(loaded)
    with torch.inference_mode():
        reference = bf16.model(inputs_embeds=bf16.model.embed_prompt(image_prompt(bf16))).logits.float()
        embeds = loaded.model.embed_prompt(prompt)
        logits = loaded.model(inputs_embeds=embeds).logits.float()
    assert logits.shape == reference.shape
    # Measured on this checkpoint: NF4 0.20, int8 0.02 (4-bit on a 64-wide toy LLM is coarse; deterministic).
    relative_error = (logits - reference).norm() / reference.norm()
    print(f"{quantization}: relative logit error {relative_error:.4f}")
    assert relative_error < max_relative_error

    out = loaded.model.generate(
        inputs_embeds=embeds,
        attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
        max_new_tokens=4,
        do_sample=False,
        top_p=None,
        top_k=None,
        temperature=None,
    )
    assert out.shape[1] >= 1 and int(out.max()) < len(loaded.tokenizer)
