"""Speculative turns: prefilled before the caller knows the turn is real, then decoded or dropped."""

from __future__ import annotations

from ola_core.engine import OlaEngine, TextDelta, Turn
from ola_core.model.loading import LoadedOla
from tests.engine.conftest import GREEDY, tone
from tests.engine.test_conversation import camera_frames

FIRST = Turn(text="Describe the room.", frames=tuple(camera_frames(2)))
GUESS = Turn(speech=tone(0.8, 330.0), voice=True)  # the utterance at a pause
REAL = Turn(speech=tone(1.4, 330.0), voice=True)  # the user went on speaking


def test_a_dropped_speculation_leaves_conversation_and_cache_as_they_were(loaded: LoadedOla) -> None:
    plain = OlaEngine.from_loaded(loaded, settings=GREEDY)
    plain.generate(FIRST)
    expected = plain.generate(REAL).token_ids

    engine = OlaEngine.from_loaded(loaded, settings=GREEDY)
    engine.generate(FIRST)
    before = (engine.context_tokens, engine.history)
    seen: list[int] = []

    def drop() -> bool:
        seen.append(engine.context_tokens)  # the guess has been prefilled by now
        return False

    deltas: list[TextDelta] = []
    stats = engine.answer(GUESS, deltas.append, ready=drop)
    assert stats.stop_reason == "dropped" and deltas == [] and stats.token_ids == []
    assert seen and seen[0] > before[0], "ready() is called after the prefill"
    assert (engine.context_tokens, engine.history) == before
    assert engine.generate(REAL).token_ids == expected  # nothing of the guess leaked into the cache


def test_a_confirmed_speculation_answers_exactly_as_an_ordinary_turn(loaded: LoadedOla) -> None:
    plain = OlaEngine.from_loaded(loaded, settings=GREEDY)
    plain.generate(FIRST)
    expected = plain.generate(GUESS)

    engine = OlaEngine.from_loaded(loaded, settings=GREEDY)
    engine.generate(FIRST)
    deltas: list[TextDelta] = []
    confirmed_with: list[int] = []

    def confirm() -> bool:
        confirmed_with.append(len(deltas))
        return True

    stats = engine.answer(GUESS, deltas.append, ready=confirm)
    assert confirmed_with == [0], "nothing is decoded before the turn is confirmed"
    assert stats.stop_reason == expected.stop_reason and stats.token_ids == expected.token_ids
    assert "".join(d.text for d in deltas) == expected.text
    assert engine.context_tokens == plain.context_tokens
