"""One conversation: its exchanges, its KV cache, and how a new turn is fitted into the context.

The prompt itself (ChatML, placeholders, the official piece-wise tokenization) is built by
``ola_core.processing.prompt``; this module decides *which* prompt to feed:

* the **continuation** — only the new turn's ids, on top of the cached earlier turns. The cache
  holds every position up to the last token that went through the model; an answer cut by
  ``max_new_tokens`` or a cancel has its last sampled id not yet in the cache, so it is fed
  first (``fed`` counts the answer ids that are in);
* or the **whole conversation**, re-prefilled from an empty cache: on the first turn, after
  an error lost the cache, when the system prompt changed, or when the continuation would
  not fit — then the oldest turns' media go first (their text stays, with a marker), then the
  oldest turns, until it fits. A prompt is never cut silently (the official code truncates it).

Answers are kept as the ids they were generated as, never re-tokenized text, so re-encoding
the history gives exactly the sequence the cache was built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from transformers.cache_utils import Cache

from ola_core.errors import GenerationError
from ola_core.processing.inputs import PromptInputs
from ola_core.processing.prompt import (
    AssistantMessage,
    Message,
    UserMessage,
    build_continuation,
    build_prompt,
    sequence_length,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# Stands in for the media of an old turn once they are dropped, so the model knows there were some.
DROPPED_MEDIA_NOTE = "(earlier pictures or sound, no longer available) "


def has_media(message: UserMessage) -> bool:
    return bool(message.images) or any(
        m is not None for m in (message.video, message.audio, message.spoken_question)
    )


def without_media(message: UserMessage) -> UserMessage:
    return UserMessage(text=DROPPED_MEDIA_NOTE + message.text)


@dataclass
class Exchange:
    """One user turn and the answer to it (open while it is being generated)."""

    user: UserMessage
    answer: AssistantMessage = field(default_factory=AssistantMessage)
    media_dropped: bool = False


@dataclass
class Prefill:
    """What to run through the model for a new turn."""

    inputs: PromptInputs
    rebuild: bool  # True: from an empty cache, the whole conversation; False: on top of the cache
    exchanges: list[Exchange]  # the earlier exchanges the conversation keeps (copies when rebuilt)
    dropped_media: int = 0
    dropped_turns: int = 0


# After the context overflows, the rebuilt conversation fills at most this much less than the
# limit, so that the following turns extend the cache instead of rebuilding it every time.
OVERFLOW_HEADROOM = 0.25


class Conversation:
    """The exchanges so far and the KV cache built from them (None: rebuild on the next turn)."""

    def __init__(self) -> None:
        self.system_prompt: str | None = None
        self.voice = False  # the first turn was spoken; it chose the system prompt's style
        self.exchanges: list[Exchange] = []
        self.cache: Cache | None = None
        self.fed = 0  # ids of the last answer whose KV is in the cache

    @classmethod
    def seeded(cls, past: tuple[tuple[str, str], ...]) -> Conversation:
        """A conversation continuing earlier (user text, answer text) turns, e.g. one reopened from
        the history: text only, no cache, so the next turn re-prefills it from scratch."""
        conversation = cls()
        conversation.exchanges = [Exchange(UserMessage(text=q), AssistantMessage(text=a)) for q, a in past]
        return conversation

    @property
    def cache_len(self) -> int:
        return 0 if self.cache is None else self.cache.get_seq_length()

    def messages(self, exchanges: list[Exchange] | None = None) -> list[Message]:
        out: list[Message] = []
        for exchange in self.exchanges if exchanges is None else exchanges:
            out += [exchange.user, exchange.answer]
        return out

    def full_prompt(
        self, tokenizer: PreTrainedTokenizerBase, new: UserMessage, exchanges: list[Exchange] | None = None
    ) -> PromptInputs:
        """System block, every exchange and the new turn: what a re-prefill from scratch feeds."""
        assert self.system_prompt is not None
        return build_prompt(tokenizer, [*self.messages(exchanges), new], system=self.system_prompt)

    def continuation(self, tokenizer: PreTrainedTokenizerBase, new: UserMessage) -> PromptInputs:
        """The ids not in the cache yet: the rest of the last answer, its closing, the new turn."""
        last = self.exchanges[-1].answer
        rest = list(last.token_ids or ())[self.fed :]
        tail = build_continuation(tokenizer, last, new)
        return PromptInputs(input_ids=rest + tail.input_ids, visuals=tail.visuals, speech=tail.speech)

    def plan(
        self,
        tokenizer: PreTrainedTokenizerBase,
        new: UserMessage,
        reserve: int,
        limit: int,
        reuse: bool,
    ) -> Prefill:
        """Choose the prompt for ``new`` so that it and ``reserve`` answer tokens fit in ``limit``.

        Raises :class:`GenerationError` when the new turn alone does not fit.
        """
        target = limit
        if reuse and self.cache is not None and self.exchanges:
            inputs = self.continuation(tokenizer, new)
            if self.cache_len + sequence_length(inputs) + reserve <= limit:
                return Prefill(inputs, rebuild=False, exchanges=self.exchanges)
            # The cache overflowed: leave room for the next turns too, or every later turn would
            # overflow again and re-prefill the whole conversation.
            target = int(limit * (1.0 - OVERFLOW_HEADROOM))
        kept = [replace(e) for e in self.exchanges]
        dropped_media = dropped_turns = 0
        inputs = self.full_prompt(tokenizer, new, kept)
        while sequence_length(inputs) + reserve > target:
            with_media = [i for i, e in enumerate(kept) if has_media(e.user)]
            if with_media:
                oldest = kept[with_media[0]]
                kept[with_media[0]] = replace(oldest, user=without_media(oldest.user), media_dropped=True)
                dropped_media += 1
            elif kept:
                kept.pop(0)
                dropped_turns += 1
            elif sequence_length(inputs) + reserve <= limit:
                break  # the new turn alone is over the headroom target but fits the model
            else:
                raise GenerationError(
                    f"This turn needs {sequence_length(inputs)} tokens plus {reserve} for the answer, more "
                    f"than the {limit} the model can hold (context or memory budget). Use a shorter audio "
                    "or video clip, fewer or smaller images, or fewer new tokens."
                )
            inputs = self.full_prompt(tokenizer, new, kept)
        return Prefill(
            inputs, rebuild=True, exchanges=kept, dropped_media=dropped_media, dropped_turns=dropped_turns
        )
