"""Token ids → text pieces that never split a character.

Qwen's byte-level BPE spreads a character such as "中" or an emoji over up to four byte tokens;
decoding after each token would show "\ufffd" and then replace it. We decode a short window of
the most recent tokens instead (the prefix/read offsets of text-generation-inference): the text
of ``ids[prefix:read]`` was already shown, the text of ``ids[prefix:]`` minus it is new, and it
is released only when it does not end in an unfinished character. Each step costs O(window),
not O(answer).
"""

from __future__ import annotations

from typing import Protocol

REPLACEMENT_CHAR = "\ufffd"


class Decoder(Protocol):
    def decode(self, token_ids: list[int], skip_special_tokens: bool = ...) -> str: ...


class IncrementalDetokenizer:
    """Feed generated ids one at a time; get back the newly completed text (or "" while incomplete)."""

    def __init__(self, tokenizer: Decoder) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # start of the decoding window (shown text, kept for context)
        self._read = 0  # end of the text already shown
        self._held: list[int] = []  # ids whose text has not been released yet

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def push(self, token_id: int) -> tuple[str, tuple[int, ...]]:
        """Add one id; returns (new text, ids it completes) — ("", ()) while a character is unfinished."""
        self._ids.append(token_id)
        self._held.append(token_id)
        shown = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        if len(text) <= len(shown) or text.endswith(REPLACEMENT_CHAR):
            return "", ()
        self._prefix, self._read = self._read, len(self._ids)
        return self._release(text[len(shown) :])

    def flush(self) -> tuple[str, tuple[int, ...]]:
        """The text still held at the end (possibly with replacement characters for broken bytes)."""
        if not self._held:
            return "", ()
        shown = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return self._release(text[len(shown) :])

    def _release(self, text: str) -> tuple[str, tuple[int, ...]]:
        ids = tuple(self._held)
        self._held = []
        return text, ids
