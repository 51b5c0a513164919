"""The engine on a bitsandbytes-quantized model (CPU backend): multi-turn with KV reuse still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from ola_core.engine import GenerationSettings, OlaEngine, Turn
from ola_core.model.tiny import TinyCheckpoint


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["nf4", "int8"])
def test_two_turns_on_a_quantized_model(
    tiny_checkpoint: TinyCheckpoint, image_file: Path, quantization: str
) -> None:
    engine = OlaEngine(
        tiny_checkpoint.model_dir,
        device="cpu",
        quantization=quantization,
        settings=GenerationSettings(greedy=True, max_new_tokens=8),
    )
    engine.load()
    first = engine.generate(Turn(text="What is this?", images=(image_file,)))
    second = engine.generate(Turn(text="Are you sure?"))
    assert first.new_tokens >= 1 and first.prompt_tokens > 150
    assert second.reused_cache and second.prompt_tokens < 40
    assert second.context_tokens > first.context_tokens
