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

from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn
from transformers import DynamicCache, Qwen2Config, Qwen2ForCausalLM

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
                inputs_embeds=inputs, past_key_values=cache, use_cache=True
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
