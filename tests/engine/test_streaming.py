"""Streaming: deltas are whole characters and add up to what non-streaming generation produces."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ola_core.engine import OFFICIAL_SYSTEM_PROMPT, SPOKEN_SYSTEM_PROMPT, GenerationSettings, OlaEngine, Turn
from ola_core.engine.detokenizer import REPLACEMENT_CHAR, IncrementalDetokenizer
from ola_core.engine.turn_inputs import MediaBudget, user_message
from ola_core.engine.types import system_prompt_for
from ola_core.model.loading import LoadedOla
from ola_core.processing.prompt import build_prompt
from tests.engine.conftest import GREEDY


def stream_text(tokenizer: object, ids: list[int]) -> list[str]:
    detokenizer = IncrementalDetokenizer(tokenizer)  # type: ignore[arg-type]
    pieces = [detokenizer.push(i)[0] for i in ids]
    pieces.append(detokenizer.flush()[0])
    return [p for p in pieces if p]


def test_multibyte_characters_are_never_split(loaded: LoadedOla) -> None:
    text = "Héllo wörld — 中文 and 🙂 emoji; 3 façades."
    ids = loaded.tokenizer.encode(text, add_special_tokens=False)
    assert len(ids) > len(text) // 2  # the tiny vocabulary splits the non-ASCII characters into bytes
    pieces = stream_text(loaded.tokenizer, ids)
    assert "".join(pieces) == text
    assert all(REPLACEMENT_CHAR not in p for p in pieces)
    assert len(pieces) > 5  # really incremental


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=371), max_size=40))
def test_any_id_sequence_streams_to_its_decoding(loaded: LoadedOla, ids: list[int]) -> None:
    """Also for random bytes that are not valid UTF-8: the pieces add up to the plain decode."""
    assert "".join(stream_text(loaded.tokenizer, ids)) == loaded.tokenizer.decode(
        ids, skip_special_tokens=True
    )


@pytest.mark.filterwarnings("ignore:Passing `repetition_penalty` with `inputs_embeds`")
def test_streamed_deltas_equal_non_streaming_greedy_generation(engine: OlaEngine, loaded: LoadedOla) -> None:
    turn = Turn(text="What is in this image? Describe the picture in detail.")
    deltas = list(engine.stream(turn))
    stats = engine.last_stats
    assert stats is not None

    # Reference: transformers' own generate on the same prompt, without streaming.
    prompt = build_prompt(
        loaded.tokenizer, [user_message(turn, MediaBudget())], system="You are a helpful assistant."
    )
    with torch.inference_mode():
        embeds = loaded.model.embed_prompt(prompt)
        reference = loaded.model.generate(
            inputs_embeds=embeds,
            attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
            do_sample=False,
            repetition_penalty=GREEDY.repetition_penalty,
            max_new_tokens=GREEDY.max_new_tokens,
            eos_token_id=sorted(loaded.generation_config.eos_token_id),
            pad_token_id=loaded.generation_config.pad_token_id,
        )[0].tolist()
    eos = set(loaded.generation_config.eos_token_id)
    reference_ids = [i for i in reference if i not in eos]
    assert len(reference_ids) >= 8  # a real answer, not an immediate stop

    assert stats.token_ids == reference_ids
    text = "".join(d.text for d in deltas)
    assert text == loaded.tokenizer.decode(reference_ids, skip_special_tokens=True) == stats.text
    assert [i for d in deltas for i in d.token_ids] == reference_ids[: sum(len(d.token_ids) for d in deltas)]
    assert stats.prompt_tokens == len(prompt.input_ids)
    times = [d.t for d in deltas]
    assert times == sorted(times) and stats.t_first_token is not None and stats.t_first_token <= times[0]


def test_statistics_of_a_turn(engine: OlaEngine) -> None:
    stats = engine.generate(Turn(text="Hello!"))
    assert (
        stats.t_start <= stats.t_encoders_done <= stats.t_prefill_done <= stats.t_first_token <= stats.t_end
    )  # type: ignore[operator]
    assert stats.stop_reason in ("eos", "max_new_tokens")
    assert stats.peak_memory_bytes is not None and stats.peak_memory_bytes > 10_000_000  # RSS of this process
    assert stats.memory_kind == "rss"
    if stats.new_tokens >= 2:
        assert stats.tokens_per_s is not None and stats.tokens_per_s > 0
    assert stats.context_tokens == engine.context_tokens > stats.prompt_tokens


def test_sampling_is_reproducible_with_a_seed(loaded: LoadedOla) -> None:
    sampling = GenerationSettings(temperature=1.0, top_k=50, top_p=0.95, max_new_tokens=16, seed=7)
    runs = [OlaEngine.from_loaded(loaded).generate(Turn(text="Hello!"), sampling).token_ids for _ in range(2)]
    assert runs[0] == runs[1]
    assert len(runs[0]) >= 4
    other = OlaEngine.from_loaded(loaded).generate(Turn(text="Hello!"), dataclasses.replace(sampling, seed=8))
    assert runs[0] != other.token_ids  # (deterministic on CPU: these two seeds give different draws)


def test_system_prompt_follows_voice_and_language() -> None:
    typed, spoken = GenerationSettings(), GenerationSettings(language="German")
    assert system_prompt_for(typed, voice=False) == OFFICIAL_SYSTEM_PROMPT
    assert system_prompt_for(typed, voice=True) == SPOKEN_SYSTEM_PROMPT
    assert system_prompt_for(spoken, voice=True) == SPOKEN_SYSTEM_PROMPT + " Always answer in German."
    custom = GenerationSettings(system_prompt="Be brief.")
    assert system_prompt_for(custom, voice=True) == "Be brief."
    with pytest.raises(ValueError, match="temperature"):
        GenerationSettings(temperature=0.0)
