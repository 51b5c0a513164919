"""The phases of one turn that need the model but not the engine object: decoding the answer into
the conversation, warming the model up, and saving/restoring the conversation around a turn.

:class:`~ola_core.engine.engine.OlaEngine` owns the conversation and the turn lock and calls
these; keeping them here keeps the engine about *when* things run, and this module about *what*
runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache

from ola_core.cancel import CancelToken
from ola_core.engine.conversation import Conversation, Exchange
from ola_core.engine.decoding import DecodeState, decode_tokens, prefill
from ola_core.engine.detokenizer import IncrementalDetokenizer
from ola_core.engine.memory import PeakMemory, truncate_cache
from ola_core.engine.turn_inputs import MediaBudget, user_message
from ola_core.engine.types import OFFICIAL_SYSTEM_PROMPT, GenerationSettings, TextDelta, Turn, TurnStats
from ola_core.media_types import TimedFrame
from ola_core.processing.prompt import AssistantMessage


class LoadedModel(Protocol):
    """A loaded model and its tokenizer (``ola_core.model.loading.LoadedOla`` is one)."""

    @property
    def model(self) -> Any: ...

    @property
    def tokenizer(self) -> Any: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def dtype(self) -> torch.dtype: ...


@dataclass
class Snapshot:
    """The conversation as a turn found it, to put back when the turn fails before it counts."""

    system_prompt: str | None
    voice: bool
    exchanges: list[Exchange]
    cache: Cache | None
    cache_len: int
    fed: int


def snapshot(c: Conversation) -> Snapshot:
    return Snapshot(c.system_prompt, c.voice, list(c.exchanges), c.cache, c.cache_len, c.fed)


def restore(c: Conversation, saved: Snapshot) -> None:
    c.system_prompt, c.voice = saved.system_prompt, saved.voice
    c.exchanges, c.cache, c.fed = saved.exchanges, saved.cache, saved.fed
    if c.cache is not None:
        truncate_cache(c.cache, saved.cache_len)


def decode_answer(
    loaded: LoadedModel,
    conversation: Conversation,
    prefilled: tuple[torch.Tensor, Exchange],
    settings: GenerationSettings,
    cancel: CancelToken,
    stats: TurnStats,
    peak: PeakMemory,
    on_delta: Callable[[TextDelta], None],
) -> None:
    """Decode the answer, handing each delta to ``on_delta``; whatever ends it, the answer so far
    is kept in step with the cache."""
    assert conversation.cache is not None
    first_logits, exchange = prefilled
    prefix = conversation.cache_len
    state = DecodeState(generated=[])
    detokenizer = IncrementalDetokenizer(loaded.tokenizer)
    generator = None
    if not settings.greedy and settings.seed is not None:
        generator = torch.Generator(device=first_logits.device).manual_seed(settings.seed)
    stop_ids = frozenset(settings.eos_token_ids) | end_of_turn_ids(loaded.tokenizer) | config_eos_ids(loaded)
    text = ""

    def emit(piece: str, ids: tuple[int, ...], now: float) -> None:
        stats.delta_times.append(now)
        on_delta(TextDelta(piece, ids, now))

    try:
        tokens = decode_tokens(
            loaded.model, conversation.cache, first_logits, settings, stop_ids, cancel, state, generator
        )
        for token in tokens:
            now = time.monotonic()
            if stats.t_first_token is None:
                stats.t_first_token = now
            peak.sample()
            piece, ids = detokenizer.push(token)
            if piece:
                text += piece
                emit(piece, ids, now)
        stats.stop_reason = state.stop_reason
        piece, ids = detokenizer.flush()
        if piece:
            text += piece
            emit(piece, ids, time.monotonic())
    finally:
        text += detokenizer.flush()[0]  # after an error: the held text, not shown but kept
        interrupted = stats.stop_reason in (None, "cancelled")
        exchange.answer = AssistantMessage(
            text=text, token_ids=tuple(state.generated), interrupted=interrupted
        )
        conversation.fed = state.fed
        truncate_cache(conversation.cache, prefix + state.fed)
        stats.token_ids = list(state.generated)
        stats.text = text
        stats.context_tokens = conversation.cache_len


def warm_up_model(loaded: LoadedModel, budget: MediaBudget, prefill_chunk: int) -> None:
    """A throw-away turn with a frame and a second of silence, on a scratch conversation."""
    frame = TimedFrame(np.zeros((64, 64, 3), dtype=np.uint8), time.monotonic())
    turn = Turn(speech=np.zeros(16000, dtype=np.float32), frames=(frame,))
    scratch = Conversation()
    scratch.system_prompt = OFFICIAL_SYSTEM_PROMPT
    inputs = scratch.full_prompt(loaded.tokenizer, user_message(turn, budget))
    never = CancelToken()
    with torch.inference_mode():
        cache = DynamicCache(config=loaded.model.config)
        logits = prefill(loaded.model, cache, loaded.model.embed_prompt(inputs), prefill_chunk, never)
        assert logits is not None
        settings = GenerationSettings(greedy=True, max_new_tokens=2)
        for _ in decode_tokens(
            loaded.model, cache, logits, settings, frozenset(), never, DecodeState(generated=[])
        ):
            pass


def end_of_turn_ids(tokenizer: Any) -> frozenset[int]:
    """``<|im_end|>`` and ``<|endoftext|>`` as the tokenizer numbers them (tiny checkpoints differ from Ola's)."""
    ids = (tokenizer.convert_tokens_to_ids(token) for token in ("<|im_end|>", "<|endoftext|>"))
    return frozenset(i for i in ids if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id)


def config_eos_ids(loaded: LoadedModel) -> frozenset[int]:
    """The checkpoint's own eos ids (generation_config.json), when the loaded model has one."""
    eos = getattr(getattr(loaded, "generation_config", None), "eos_token_id", None)
    if eos is None:
        return frozenset()
    return frozenset([eos] if isinstance(eos, int) else eos)
