"""Multi-turn: KV-cache reuse equals re-encoding, prefill cost of a follow-up, context overflow."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from ola_core.engine import GenerationSettings, OlaEngine, Turn
from ola_core.engine.conversation import DROPPED_MEDIA_NOTE, Conversation, Exchange, without_media
from ola_core.errors import GenerationError
from ola_core.media_types import TimedFrame
from ola_core.model.loading import LoadedOla
from ola_core.model.profiles import kv_bytes_per_token
from ola_core.processing.prompt import INTERRUPTED_NOTE, AssistantMessage, UserMessage, sequence_length
from tests.engine.conftest import GREEDY, tone


def camera_frames(n: int) -> list[TimedFrame]:
    rng = np.random.default_rng(1)
    return [TimedFrame(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8), float(i) / 2) for i in range(n)]


def test_kv_reuse_gives_the_same_greedy_tokens_as_reencoding(loaded: LoadedOla, image_file: Path) -> None:
    turns = [
        Turn(text="What is in this image?", images=(image_file,)),
        Turn(text="And what colour is it?"),
        Turn(text="Say it again, shorter.", speech=tone(1.0)),
    ]
    reusing = OlaEngine.from_loaded(loaded, settings=GREEDY)
    reencoding = OlaEngine.from_loaded(loaded, settings=GREEDY, reuse_cache=False)
    for index, turn in enumerate(turns):
        a, b = reusing.generate(turn), reencoding.generate(turn)
        assert a.token_ids == b.token_ids, f"turn {index + 1} differs"
        assert a.context_tokens == b.context_tokens
        assert a.reused_cache == (index > 0) and not b.reused_cache
        if index > 0:
            assert a.prompt_tokens < b.prompt_tokens
    assert any(len(s.answer) > 0 for s in reusing.history)


def test_second_turn_prefill_does_not_grow_with_first_turn_media(loaded: LoadedOla, image_file: Path) -> None:
    follow_up = Turn(text="Tell me more.")
    prefills = {}
    for name, first in {
        "text": Turn(text="Hello."),
        "image": Turn(text="Hello.", images=(image_file,) * 2),
    }.items():
        engine = OlaEngine.from_loaded(loaded, settings=GREEDY)
        first_stats = engine.generate(first)
        prefills[name] = (first_stats.prompt_tokens, engine.generate(follow_up).prompt_tokens)
    assert prefills["image"][0] > prefills["text"][0] + 200  # two images are hundreds of positions
    # The follow-up prefills only its own ids (plus, at most, the previous answer's last id).
    assert abs(prefills["image"][1] - prefills["text"][1]) <= 1
    assert prefills["image"][1] < 40


def test_cancelled_turn_before_prefill_leaves_no_trace(engine: OlaEngine) -> None:
    engine.generate(Turn(text="Hello."))
    before = (engine.history, engine.context_tokens)
    stream = engine.stream(Turn(text="Something else."))
    engine.cancel()  # before the worker got to the model (or right after: both are valid outcomes)
    list(stream)
    stats = engine.last_stats
    assert stats is not None and stats.stop_reason == "cancelled"
    if stats.t_prefill_done is None:
        assert (engine.history, engine.context_tokens) == before
    else:
        assert engine.history[-1].interrupted


def tiny_budget_engine(loaded: LoadedOla, positions: int) -> OlaEngine:
    per_token = kv_bytes_per_token(loaded.model.config, loaded.dtype)
    return OlaEngine.from_loaded(
        loaded,
        settings=GenerationSettings(greedy=True, max_new_tokens=8),
        memory_budget_bytes=positions * per_token,
    )


def test_context_overflow_drops_oldest_media_then_oldest_turns(loaded: LoadedOla, image_file: Path) -> None:
    engine = tiny_budget_engine(loaded, 520)
    assert engine.max_context_tokens == 520
    first = engine.generate(Turn(text="First picture.", images=(image_file,)))
    assert first.prompt_tokens > 150 and first.dropped_media == 0
    second = engine.generate(Turn(text="Second picture.", images=(image_file,)))
    assert second.reused_cache and second.dropped_media == 0
    third = engine.generate(Turn(text="Third picture.", images=(image_file,)))
    # Three pictures do not fit: the first one's media went, its text and answer stayed.
    assert not third.reused_cache and third.dropped_media >= 1 and third.dropped_turns == 0
    assert [h.media_dropped for h in engine.history][:1] == [True]
    assert len(engine.history) == 3
    assert engine.context_tokens <= engine.max_context_tokens
    # Keep talking with pictures: media run out, then whole turns go, and it keeps answering.
    for i in range(3):
        stats = engine.generate(Turn(text=f"Picture {i + 4}.", images=(image_file,)))
        assert stats.stop_reason in ("eos", "max_new_tokens")
        assert engine.context_tokens <= engine.max_context_tokens
    assert len(engine.history) < 6
    # After a re-prefill the cache is reused again, and it equals re-encoding what was kept.
    twin = OlaEngine.from_loaded(loaded, settings=engine.settings, reuse_cache=False)
    twin._conversation = copy.copy(engine._conversation)
    twin._conversation.cache = None
    follow_up = Turn(text="Which picture was the brightest?")
    stats = engine.generate(follow_up)
    assert stats.reused_cache and stats.token_ids == twin.generate(follow_up).token_ids


def test_after_an_overflow_the_next_turns_extend_the_cache_again(loaded: LoadedOla, image_file: Path) -> None:
    """A rebuild leaves headroom: the turns after an overflow do not each re-prefill everything."""
    engine = tiny_budget_engine(loaded, 520)
    for i in range(3):
        stats = engine.generate(Turn(text=f"Picture {i}.", images=(image_file,)))
    assert not stats.reused_cache  # the third picture overflowed and rebuilt the conversation
    assert engine.context_tokens <= 0.75 * engine.max_context_tokens + 8  # + the answer
    follow_ups = [engine.generate(Turn(text=f"And the colour {i}?")) for i in range(3)]
    assert all(s.reused_cache for s in follow_ups)


def test_a_turn_that_alone_does_not_fit_is_refused_and_the_engine_goes_on(
    loaded: LoadedOla, image_file: Path
) -> None:
    engine = tiny_budget_engine(loaded, 120)
    engine.generate(Turn(text="Hi."))
    with pytest.raises(GenerationError, match="more than the 120"):
        list(engine.stream(Turn(text="Look.", images=(image_file,))))
    assert len(engine.history) == 1
    assert engine.generate(Turn(text="Hi again.")).reused_cache


def test_plan_drops_media_oldest_first(loaded: LoadedOla) -> None:
    """The fitting rule on its own: media of the oldest turns go before any turn goes."""
    from ola_core.engine.turn_inputs import MediaBudget, user_message

    tokenizer = loaded.tokenizer
    conversation = Conversation()
    conversation.system_prompt = "You are a helpful assistant."
    with_audio = user_message(Turn(text="listen", speech=tone(0.5)), MediaBudget())
    for _ in range(3):
        conversation.exchanges.append(
            Exchange(with_audio, AssistantMessage("ok", tuple(tokenizer.encode("ok"))))
        )
    new = UserMessage(text="next")

    def length_with(stripped: int, exchanges: list[Exchange]) -> int:
        kept = [
            Exchange(without_media(e.user), e.answer) if i < stripped else e for i, e in enumerate(exchanges)
        ]
        return sequence_length(conversation.full_prompt(tokenizer, new, kept))

    one_stripped = length_with(1, conversation.exchanges)
    assert one_stripped < sequence_length(conversation.full_prompt(tokenizer, new))
    plan = conversation.plan(tokenizer, new, reserve=10, limit=one_stripped + 10, reuse=False)
    assert (plan.dropped_media, plan.dropped_turns) == (1, 0)
    assert [e.media_dropped for e in plan.exchanges] == [True, False, False]
    assert plan.exchanges[0].user.text.startswith(DROPPED_MEDIA_NOTE)
    assert sequence_length(plan.inputs) == one_stripped

    all_stripped = length_with(3, conversation.exchanges)
    plan = conversation.plan(tokenizer, new, reserve=10, limit=all_stripped + 10 - 1, reuse=False)
    assert (plan.dropped_media, plan.dropped_turns) == (3, 1)
    assert len(plan.exchanges) == 2 and len(conversation.exchanges) == 3  # a plan, not a change
    assert sequence_length(plan.inputs) < all_stripped


def test_camera_frames_with_speech_go_as_one_video_with_its_soundtrack() -> None:
    from ola_core.engine.turn_inputs import MediaBudget, user_message

    frames = camera_frames(6)
    spoken = user_message(Turn(speech=tone(1.0), frames=frames), MediaBudget())
    assert spoken.video is not None and spoken.video.frames.shape[0] == 6
    assert spoken.audio is not None and spoken.spoken_question is None
    silent = user_message(Turn(text="what is this?", frames=frames), MediaBudget(max_camera_frames=4))
    assert silent.video is not None and silent.video.frames.shape[0] == 4 and silent.audio is None
    screen = user_message(Turn(speech=tone(1.0), frames=frames, frames_kind="screen"), MediaBudget())
    assert screen.video is None and len(screen.images) == 1 and screen.spoken_question is not None
    voice = user_message(Turn(speech=tone(1.0), voice=True), MediaBudget())
    assert voice.spoken_question is not None and not voice.images and voice.video is None
    # int16 samples from a microphone are scaled like any decoder does.
    as_int16 = user_message(Turn(speech=(tone(1.0) * 32767).astype(np.int16)), MediaBudget())
    assert as_int16.spoken_question is not None
    assert np.allclose(as_int16.spoken_question.mels, voice.spoken_question.mels, atol=1e-2)


def test_voice_conversation_gets_the_spoken_system_prompt(engine: OlaEngine) -> None:
    from ola_core.engine import SPOKEN_SYSTEM_PROMPT

    engine.generate(Turn(speech=tone(0.5), voice=True))
    assert engine._conversation.system_prompt == SPOKEN_SYSTEM_PROMPT
    second = engine.generate(Turn(text="typed follow-up"))
    assert second.reused_cache  # the style stays for the conversation, the cache with it


def test_reset_starts_a_new_conversation(engine: OlaEngine) -> None:
    engine.generate(Turn(text="Hello."))
    assert engine.history and engine.context_tokens > 0
    engine.reset()
    assert engine.history == () and engine.context_tokens == 0
    stats = engine.generate(Turn(text="Hello."))
    assert not stats.reused_cache


def test_an_answer_cut_short_during_playback_is_marked_for_the_next_turn(loaded: LoadedOla) -> None:
    engine = OlaEngine.from_loaded(loaded, settings=GenerationSettings(greedy=True, max_new_tokens=8))
    engine.generate(Turn(text="Tell me a long story."))
    assert not engine.history[0].interrupted
    engine.mark_interrupted()  # the user talked over its playback, after generation had finished
    assert engine.history[0].interrupted
    tokenizer = loaded.tokenizer
    note = tokenizer.encode(INTERRUPTED_NOTE, add_special_tokens=False)
    ids = engine._conversation.continuation(tokenizer, UserMessage(text="Stop. Something else.")).input_ids
    assert any(ids[i : i + len(note)] == note for i in range(len(ids)))
    stats = engine.generate(Turn(text="Stop. Something else."))
    assert stats.reused_cache and stats.stop_reason in ("eos", "max_new_tokens")
