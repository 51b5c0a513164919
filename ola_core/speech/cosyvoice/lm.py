"""Text → speech tokens: transformers' Qwen2 over [sos, text, task, prompt speech] embeddings.

CosyVoice2's LM is a plain Qwen2-0.5B decoder (reused from transformers, not rewritten) whose
input is a sequence of embeddings: a start vector, the text's token embeddings (Qwen's own
table), a "task" vector, then the prompt's speech tokens (for zero-shot voices). It then
predicts speech tokens one by one from a separate head (6561 tokens + end/task/fill) and feeds
each back through a separate speech embedding table, with the KV cache of transformers.

Sampling is upstream's repetition-aware sampling (nucleus top-p 0.8 / top-k 25; if the pick
repeats too often in the last 10 tokens, sample from the full distribution instead) or greedy
(tests). The generator yields one token per step and checks ``should_stop`` before each, so a
cancel costs at most one forward step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import Tensor, nn
from transformers import DynamicCache, Qwen2Config, Qwen2ForCausalLM

from ola_core.hf_compat import cache_kwargs
from ola_core.speech.cosyvoice.config import LMConfig

__all__ = ["Sampler", "SpeechTokenLM", "greedy_sampler", "ras_sampler"]

# (log-probabilities (V,), tokens so far, generator) -> next token id
Sampler = Callable[[Tensor, list[int], "torch.Generator | None"], int]


def greedy_sampler(scores: Tensor, history: list[int], generator: torch.Generator | None) -> int:
    return int(scores.argmax())


def ras_sampler(config: LMConfig) -> Sampler:
    """Repetition-aware sampling with the model's settings (draws from ``generator``)."""

    def nucleus(scores: Tensor, generator: torch.Generator | None) -> int:
        probabilities, order = scores.softmax(dim=0).sort(descending=True, stable=True)
        # keep the smallest prefix whose mass reaches top_p (the token that crosses it included), ≤ top_k
        before = torch.cumsum(probabilities, 0) - probabilities
        keep = int((before < config.top_p).sum())  # ``before`` only grows: this counts a prefix
        keep = max(1, min(keep, config.top_k))
        kept = probabilities[:keep].float().cpu()
        return int(order[int(kept.multinomial(1, replacement=True, generator=generator))])

    def sample(scores: Tensor, history: list[int], generator: torch.Generator | None) -> int:
        token = nucleus(scores, generator)
        recent = history[-config.win_size :]
        if sum(1 for t in recent if t == token) >= config.win_size * config.tau_r:
            scores = scores.clone()
            scores[token] = -float("inf")
            token = int(
                scores.softmax(dim=0).float().cpu().multinomial(1, replacement=True, generator=generator)
            )
        return token

    return sample


class SpeechTokenLM(nn.Module):
    """Holds the Qwen2 decoder and CosyVoice2's three extra tables; :meth:`generate` streams tokens."""

    def __init__(self, qwen_config: Qwen2Config, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        self.qwen = Qwen2ForCausalLM(qwen_config)
        hidden, vocab = config.hidden_size, config.speech_token_size + 3
        self.llm_embedding = nn.Embedding(2, hidden)  # 0: start of sequence, 1: task (start speaking)
        self.speech_embedding = nn.Embedding(vocab, hidden)
        self.llm_decoder = nn.Linear(hidden, vocab)

    @property
    def end_token(self) -> int:
        return self.config.speech_token_size

    def prompt_embeddings(self, text: Tensor, prompt_text: Tensor, prompt_speech: Tensor) -> Tensor:
        """(1, L, H): [sos, prompt text + text, task, prompt speech tokens]; ids are (1, n) int."""
        table = self.qwen.get_input_embeddings()
        text_embedded = table(torch.cat([prompt_text, text], dim=1).long())
        sos = self.llm_embedding.weight[0].view(1, 1, -1)
        task = self.llm_embedding.weight[1].view(1, 1, -1)
        speech = self.speech_embedding(prompt_speech.long())
        return torch.cat([sos, text_embedded, task, speech.to(text_embedded.dtype)], dim=1)

    @torch.inference_mode()
    def generate(
        self,
        text: Tensor,
        prompt_text: Tensor,
        prompt_speech: Tensor,
        sampler: Sampler,
        *,
        generator: torch.Generator | None = None,
        min_ratio: float = 2.0,
        max_ratio: float = 20.0,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[int]:
        """Speech tokens for ``text`` (ids (1, n)); between min_ratio·n and max_ratio·n of them."""
        device = self.llm_decoder.weight.device
        text, prompt_text, prompt_speech = text.to(device), prompt_text.to(device), prompt_speech.to(device)
        inputs = self.prompt_embeddings(text, prompt_text, prompt_speech)
        min_len, max_len = int(text.size(1) * min_ratio), int(text.size(1) * max_ratio)
        cache = DynamicCache(config=self.qwen.config)
        history: list[int] = []
        for step in range(max_len):
            if should_stop():
                return
            hidden = self.qwen.model(
                inputs_embeds=inputs, use_cache=True, **cache_kwargs(self.qwen.model, cache)
            ).last_hidden_state
            scores = self.llm_decoder(hidden[0, -1]).float().log_softmax(dim=-1)
            if step < min_len:
                scores[self.end_token] = -float("inf")
            token = sampler(scores, history, generator)
            if token >= self.end_token:  # end, task or fill: the utterance is over
                return
            yield token
            history.append(token)
            inputs = self.speech_embedding.weight[token].view(1, 1, -1)

    @torch.inference_mode()
    def generate_interleaved(
        self,
        text_pieces: Iterable[Tensor],
        prompt_text: Tensor,
        prompt_speech: Tensor,
        sampler: Sampler,
        *,
        generator: torch.Generator | None = None,
        max_ratio: float = 20.0,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[int]:
        """Speech tokens while the text still arrives (CosyVoice2 "bi-streaming").

        Text ids (pieces of (1, n)) and speech are interleaved as the model was trained: 5 text
        tokens, then up to 15 speech tokens, then a *fill* token that asks for the next 5 text
        tokens; the prompt's speech tokens are spliced in the same rhythm first. Once the text
        ends, the rest of it and the task vector go in and decoding runs to the end token. The
        input sequence follows upstream's ``inference_bistream`` step for step — including that,
        after a fill, the final stage feeds the last speech token once more — so the released model
        sees what it sees upstream. A cap of ``max_ratio`` tokens per text token (upstream has
        none) stops a model that never ends.
        """
        device = self.llm_decoder.weight.device
        table = self.qwen.get_input_embeddings()
        text_per_round, speech_per_round = self.config.mix_ratio
        fill = self.end_token + 2
        pending_text = table(prompt_text.to(device).long())  # (1, n, H) text not yet fed
        pending_speech = self.speech_embedding(prompt_speech.to(device).long())  # (1, P, H)
        feed = self.llm_embedding.weight[0].view(1, 1, -1)  # start of sequence
        task = self.llm_embedding.weight[1].view(1, 1, -1)
        cache = DynamicCache(config=self.qwen.config)
        history: list[int] = []
        prompt_len = prompt_speech.size(1)
        next_fill = (prompt_len // speech_per_round + 1) * speech_per_round - prompt_len
        text_tokens = prompt_text.size(1)

        def scores_for(inputs: Tensor) -> Tensor:
            hidden = self.qwen.model(
                inputs_embeds=inputs, use_cache=True, **cache_kwargs(self.qwen.model, cache)
            ).last_hidden_state
            return self.llm_decoder(hidden[0, -1]).float().log_softmax(dim=-1)

        for piece in text_pieces:
            for token_id in piece.to(device).long().view(-1):  # upstream consumes the text token by token
                text_tokens += 1
                pending_text = torch.cat([pending_text, table(token_id.view(1, 1))], dim=1)
                while pending_speech.size(1) and pending_text.size(1) >= text_per_round:
                    feed = torch.cat(
                        [feed, pending_text[:, :text_per_round], pending_speech[:, :speech_per_round]], 1
                    )
                    pending_text = pending_text[:, text_per_round:]
                    pending_speech = pending_speech[:, speech_per_round:]
                if pending_speech.size(1):
                    continue
                after_fill = bool(history) and history[-1] == fill
                if after_fill or (not history and feed.size(1) == 1):  # the model waits for text
                    if pending_text.size(1) < text_per_round:
                        continue
                    words = pending_text[:, :text_per_round]
                    feed = words if after_fill else torch.cat([feed, words], dim=1)
                    pending_text = pending_text[:, text_per_round:]
                while True:
                    if should_stop():
                        return
                    scores = scores_for(feed)
                    if next_fill != -1 and len(history) == next_fill:
                        token = fill
                        next_fill += speech_per_round + 1
                    else:
                        scores[self.end_token] = -float("inf")
                        token = sampler(scores, history, generator)
                    if token == fill:
                        next_fill = len(history) + speech_per_round + 1
                    history.append(token)
                    if token == fill:
                        break
                    if token > self.end_token:
                        raise ValueError(f"the speech LM produced the reserved token {token}")
                    yield token
                    feed = self.speech_embedding.weight[token].view(1, 1, -1)
        feed = torch.cat([feed, pending_text, task], dim=1)
        for _ in range(int(max_ratio * max(text_tokens, 1))):
            if should_stop():
                return
            token = sampler(scores_for(feed), history, generator)
            history.append(token)
            if token == self.end_token:
                return
            if token > self.end_token:
                raise ValueError(f"the speech LM produced the reserved token {token}")
            yield token
            feed = self.speech_embedding.weight[token].view(1, 1, -1)
