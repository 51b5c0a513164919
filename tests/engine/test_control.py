"""Control of a running engine: cancel, one turn at a time, out-of-memory recovery, loading."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch

from ola_core.engine import GenerationSettings, OlaEngine, Turn
from ola_core.errors import GenerationError, InsufficientMemoryError, LoadCancelledError
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from ola_core.processing.inputs import VideoInput
from tests.engine.conftest import GREEDY
from tests.engine.test_conversation import camera_frames

LONG = GenerationSettings(greedy=True, max_new_tokens=400)


class CountingForward:
    """Wraps the model's forward: counts calls, can slow them down or fail one."""

    def __init__(self, forward: Callable[..., Any], delay_s: float = 0.0, fail_at: int | None = None) -> None:
        self.forward, self.delay_s, self.fail_at = forward, delay_s, fail_at
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        time.sleep(self.delay_s)
        return self.forward(*args, **kwargs)


def test_cancel_from_another_thread_stops_within_one_step(
    engine: OlaEngine, loaded: LoadedOla, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingForward(loaded.model.forward, delay_s=0.01)
    monkeypatch.setattr(loaded.model, "forward", counter)
    received = []
    steps_at_cancel = 0
    for delta in engine.stream(Turn(text="Tell me a long story."), LONG):
        received.append(delta)
        if len(received) == 3:
            canceller = threading.Thread(target=engine.cancel)
            canceller.start()
            canceller.join()
            steps_at_cancel = counter.calls
    stats = engine.last_stats
    assert stats is not None and stats.stop_reason == "cancelled"
    assert counter.calls - steps_at_cancel <= 1  # at most the step already running
    assert stats.new_tokens < LONG.max_new_tokens
    assert engine.history[-1].interrupted and engine.history[-1].answer == stats.text
    assert stats.text.startswith("".join(d.text for d in received[:3]))

    # The interrupted answer (closed with the prompt builder's interruption note) and the cache agree:
    # the follow-up continues exactly as re-encoding the kept conversation would.
    monkeypatch.undo()
    twin = OlaEngine.from_loaded(loaded, settings=GREEDY, reuse_cache=False)
    twin._conversation = copy.copy(engine._conversation)
    twin._conversation.cache = None
    follow_up = engine.generate(Turn(text="Go on."), GREEDY)
    assert follow_up.stop_reason in ("eos", "max_new_tokens") and follow_up.reused_cache
    assert follow_up.token_ids == twin.generate(Turn(text="Go on."), GREEDY).token_ids


def test_leaving_the_stream_early_cancels_the_turn(engine: OlaEngine) -> None:
    for _ in engine.stream(Turn(text="Tell me a long story."), LONG):
        break  # the generator is closed here
    stats = engine.last_stats
    assert stats is not None and stats.stop_reason == "cancelled" and stats.new_tokens < LONG.max_new_tokens
    assert engine.generate(Turn(text="Hello.")).stop_reason in ("eos", "max_new_tokens")


def test_second_stream_while_one_runs_is_an_error(
    engine: OlaEngine, loaded: LoadedOla, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loaded.model, "forward", CountingForward(loaded.model.forward, delay_s=0.01))
    first = engine.stream(Turn(text="Tell me a long story."), LONG)
    next(first)
    with pytest.raises(GenerationError, match="already running"):
        engine.stream(Turn(text="Interrupting."))
    engine.cancel()
    list(first)
    assert engine.generate(Turn(text="Now.")).stop_reason in ("eos", "max_new_tokens")


def test_out_of_memory_while_encoding_retries_with_fewer_frames(
    engine: OlaEngine, loaded: LoadedOla, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames_seen: list[int] = []
    embed = loaded.model.embed_prompt

    def failing_once(inputs: Any) -> torch.Tensor:
        frames_seen.append(sum(v.frames.shape[0] for v in inputs.visuals if isinstance(v, VideoInput)))
        if len(frames_seen) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return embed(inputs)

    monkeypatch.setattr(loaded.model, "embed_prompt", failing_once)
    stats = engine.generate(Turn(text="What do you see?", frames=camera_frames(8)))
    assert frames_seen == [8, 4]
    assert stats.oom_retries == 1 and stats.stop_reason in ("eos", "max_new_tokens")
    assert len(engine.history) == 1


def test_out_of_memory_twice_is_a_clear_error_and_the_engine_stays_usable(
    engine: OlaEngine, loaded: LoadedOla, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.generate(Turn(text="Hello."))
    before = (engine.history, engine.context_tokens)
    embed = loaded.model.embed_prompt

    def always_failing(inputs: Any) -> torch.Tensor:
        if inputs.visuals:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return embed(inputs)

    monkeypatch.setattr(loaded.model, "embed_prompt", always_failing)
    with pytest.raises(InsufficientMemoryError, match="Not enough memory"):
        list(engine.stream(Turn(text="What do you see?", frames=camera_frames(8))))
    assert (engine.history, engine.context_tokens) == before
    stats = engine.generate(Turn(text="Hello again."))
    assert stats.reused_cache and stats.stop_reason in ("eos", "max_new_tokens")


def test_out_of_memory_mid_answer_keeps_the_partial_answer_and_a_consistent_cache(
    engine: OlaEngine, loaded: LoadedOla, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.generate(Turn(text="Hello."))
    # Fail inside the last decoder layer, after the first layers have already appended this step's KV.
    last_layer = loaded.model.model.layers[-1]
    counter = CountingForward(last_layer.forward, fail_at=12)  # the prefill, then 10 decode steps
    monkeypatch.setattr(last_layer, "forward", counter)
    received = []
    with pytest.raises(InsufficientMemoryError):
        for delta in engine.stream(Turn(text="Tell me a long story."), LONG):
            received.append(delta)
    assert received and engine.history[-1].interrupted
    assert engine.history[-1].answer.startswith("".join(d.text for d in received))
    monkeypatch.undo()

    # The kept cache must equal what re-encoding the kept conversation gives.
    twin = OlaEngine.from_loaded(loaded, settings=GREEDY, reuse_cache=False)
    twin._conversation = copy.copy(engine._conversation)
    twin._conversation.cache = None
    turn = Turn(text="What happened?")
    assert engine.generate(turn).token_ids == twin.generate(turn).token_ids
    assert engine.last_stats is not None and engine.last_stats.reused_cache


def test_load_reports_progress_and_can_be_cancelled(tiny_checkpoint: TinyCheckpoint) -> None:
    reports: list[tuple[float, str]] = []
    engine = OlaEngine(tiny_checkpoint.model_dir, device="cpu")
    engine.load(progress=lambda fraction, stage: reports.append((fraction, stage)))
    fractions = [f for f, _ in reports]
    assert engine.loaded and fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4
    assert "cpu" in engine.description

    cancelled = OlaEngine(tiny_checkpoint.model_dir, device="cpu")
    stages: list[str] = []

    def cancel_after_tokenizer(fraction: float, stage: str) -> None:
        stages.append(stage)
        if fraction >= 0.05:
            job.cancel()

    job = cancelled.load_in_background(progress=cancel_after_tokenizer)
    assert job.wait(60)
    assert isinstance(job.error, LoadCancelledError) and not cancelled.loaded
    with pytest.raises(GenerationError, match="not loaded"):
        cancelled.stream(Turn(text="Hi."))


def test_cancel_during_a_long_prefill_stops_between_chunks_and_undoes_the_turn(
    loaded: LoadedOla, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = OlaEngine.from_loaded(loaded, settings=GREEDY, prefill_chunk=8)
    engine.generate(Turn(text="Hello."))
    before = (engine.history, engine.context_tokens)
    counter = CountingForward(loaded.model.forward, delay_s=0.02)
    monkeypatch.setattr(loaded.model, "forward", counter)

    def cancel_after_three_chunks() -> None:
        while counter.calls < 3:
            time.sleep(0.001)
        engine.cancel()

    canceller = threading.Thread(target=cancel_after_three_chunks)
    canceller.start()
    text = " ".join(["Please describe everything you can see in the picture in detail."] * 4)
    assert list(engine.stream(Turn(text=text))) == []
    canceller.join()
    stats = engine.last_stats
    assert stats is not None and stats.stop_reason == "cancelled" and stats.t_prefill_done is None
    assert counter.calls <= 4  # the chunk running when cancel came, no more
    assert (engine.history, engine.context_tokens) == before
    monkeypatch.undo()

    twin = OlaEngine.from_loaded(loaded, settings=GREEDY, reuse_cache=False)
    twin._conversation = copy.copy(engine._conversation)
    twin._conversation.cache = None
    turn = Turn(text="Hello again.")
    assert engine.generate(turn).token_ids == twin.generate(turn).token_ids


def test_warm_up_leaves_the_conversation_alone(engine: OlaEngine) -> None:
    engine.generate(Turn(text="Hello."))
    before = (engine.history, engine.context_tokens)
    assert engine.warm_up() > 0
    assert (engine.history, engine.context_tokens) == before
    assert engine.generate(Turn(text="Again.")).reused_cache
