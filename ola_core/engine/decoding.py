"""The token loop: prefill new input embeddings onto a KV cache, then decode one token per step.

We run our own loop rather than ``model.generate`` because a conversation needs what generate
does not give: prefilling only the new turn's *embeddings* on top of an existing cache (generate
wants the whole history's embeddings again and slices them), a stop checked between every two
decode steps, and an exact count of which tokens reached the cache (after a cancel the next
turn must continue from there). Sampling itself is transformers' own logits processors and
stopping criteria, in generate's order, so greedy output equals ``generate(do_sample=False)``
and the official pipeline (repetition penalty over generated tokens only, then temperature and
top-k, docs/official-ola.md §4.4).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.cache_utils import Cache

from ola_core.cancel import CancelToken
from ola_core.engine.types import StopReason
from ola_core.hf_compat import cache_kwargs
from ola_core.processing.generation import DecodingSettings


class CancelCriteria(StoppingCriteria):
    """Stops every row as soon as the turn's token is set (checked once per decode step, from any thread)."""

    def __init__(self, event: CancelToken) -> None:
        self.event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object
    ) -> torch.BoolTensor:
        # transformers 5 wants one bool per row.
        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )  # type: ignore[return-value]


def logits_processors(settings: DecodingSettings) -> LogitsProcessorList:
    """generate's processors then warpers for these settings (warpers only when sampling)."""
    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
    if not settings.greedy:
        if settings.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(settings.temperature))
        processors.append(TopKLogitsWarper(settings.top_k))
        if settings.top_p < 1.0:
            processors.append(TopPLogitsWarper(settings.top_p))
    return processors


@dataclass
class DecodeState:
    """What the loop did; read by the engine after (or while) iterating."""

    generated: list[int]  # sampled ids, the stop token excluded
    fed: int = 0  # how many of ``generated`` were run through the model (their KV is cached)
    stop_reason: StopReason | None = None


def forward_embeds(model: Any, cache: Cache, embeds: torch.Tensor) -> torch.Tensor:
    """Run ``embeds`` (1, L, hidden) on top of ``cache`` (appending to it); logits of the last position (1, vocab)."""
    out = model(inputs_embeds=embeds, use_cache=True, logits_to_keep=1, **cache_kwargs(model, cache))
    return out.logits[:, -1, :].float()


def prefill(
    model: Any, cache: Cache, embeds: torch.Tensor, chunk: int, cancel: CancelToken
) -> torch.Tensor | None:
    """Run ``embeds`` (1, L, hidden) onto ``cache`` in pieces of ``chunk`` positions; last logits (1, vocab).

    Pieces bound the activation memory of a long prompt (a 16k-token re-prefill) and let a
    cancel stop the prefill between two of them: then None, with the cache left partly filled
    (the caller cuts it back).
    """
    logits = None
    for start in range(0, embeds.shape[1], chunk):
        if cancel.is_set():
            return None
        logits = forward_embeds(model, cache, embeds[:, start : start + chunk])
    assert logits is not None, "empty prompt"
    return logits


def decode_tokens(
    model: Any,  # a transformers causal LM
    cache: Cache,
    first_logits: torch.Tensor,  # (1, vocab) after the prefill
    settings: DecodingSettings,
    stop_ids: frozenset[int],
    cancel: CancelToken,
    state: DecodeState,
    generator: torch.Generator | None = None,  # for reproducible sampling
) -> Iterator[int]:
    """Yield generated ids one by one until a stop id, ``max_new_tokens`` or ``cancel``.

    The next token is fed to the model only when the consumer asks for it, so a consumer that
    stops iterating leaves ``state.fed`` exact. ``max_new_tokens`` counts the stop token, as
    in generate.
    """
    device = first_logits.device
    processors = logits_processors(settings)
    stopping = StoppingCriteriaList([CancelCriteria(cancel)])
    embed_tokens = model.get_input_embeddings()
    history = torch.empty((1, 0), dtype=torch.long, device=device)  # generated ids, for the processors
    logits = first_logits
    for step in range(settings.max_new_tokens):
        if stopping(history, logits).any():
            state.stop_reason = "cancelled"
            return
        if step > 0:
            token = torch.tensor([[state.generated[-1]]], device=embed_tokens.weight.device)
            logits = forward_embeds(model, cache, embed_tokens(token))
            state.fed += 1
        scores = processors(history, logits)  # type: ignore[arg-type]
        if settings.greedy:
            next_id = int(scores.argmax(dim=-1))
        else:
            probs = torch.softmax(scores, dim=-1)
            next_id = int(torch.multinomial(probs, 1, generator=generator))
        if next_id in stop_ids:
            state.stop_reason = "eos"
            return
        history = torch.cat([history, torch.tensor([[next_id]], device=device)], dim=1)
        state.generated.append(next_id)
        yield next_id
    state.stop_reason = "max_new_tokens"
