"""The operator's word filter, applied to the answer as it streams: what is shown and what is spoken.

The assistant takes a factory of per-answer filters (``Assistant(answer_filter=...)``); each answer
gets a fresh :class:`FilterStream`, whose output feeds both the transcript events and the speech
pipeline, so the screen and the voice can never disagree. Deltas are cut anywhere (inside a
word, between the two characters of a Chinese term), so the stream holds back the tail that could
still be the start of a listed term and releases it with the next delta or at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD_CHAR = re.compile(r"[A-Za-z0-9_']")


class WordFilter:
    """Listed words are replaced by ``mask``: case-insensitive; whole words for Latin script,
    plain substrings for scripts without spaces (Chinese)."""

    def __init__(self, words: Iterable[str], mask: str = "…") -> None:
        terms = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
        self.mask = mask
        self._terms = terms
        self.longest = max((len(t) for t in terms), default=0)
        parts = [
            rf"(?<![A-Za-z0-9_]){re.escape(t)}(?![A-Za-z0-9_])" if t.isascii() else re.escape(t)
            for t in terms
        ]
        self._pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def __call__(self) -> FilterStream:
        """A new stream for one answer (the assistant's ``answer_filter`` factory)."""
        return FilterStream(self)

    def clean(self, text: str) -> str:
        """``text`` with every listed term masked (a whole text: a greeting, a caption)."""
        return self._pattern.sub(self.mask, text) if self._pattern is not None else text

    def partial_tail(self, text: str) -> int:
        """Length of the longest end of ``text`` that a listed term starts with (0: none)."""
        lowered = text[-(self.longest - 1) :].lower() if self.longest > 1 else ""
        for k in range(len(lowered), 0, -1):
            if any(term.startswith(lowered[-k:]) for term in self._terms):
                return k
        return 0

    def matches(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._pattern.finditer(text)] if self._pattern is not None else []


class FilterStream:
    """One answer's text through a :class:`WordFilter`: ``feed`` deltas, then ``finish``."""

    def __init__(self, words: WordFilter) -> None:
        self._filter = words
        self._held = ""

    def feed(self, text: str) -> str:
        """The filtered text that is safe to release now ("" while a term may still be forming)."""
        if self._filter.longest == 0:
            return text
        raw = self._held + text
        cut = len(raw) - self._filter.partial_tail(raw)
        while cut > 0 and _WORD_CHAR.match(raw[cut - 1]) and (cut == len(raw) or _WORD_CHAR.match(raw[cut])):
            cut -= 1  # never cut inside or right after a Latin word: "bad" may yet become "badge"
        for start, end in self._filter.matches(raw):
            if start < cut < end:
                cut = start  # a complete match across the cut stays whole
        self._held = raw[cut:]
        return self._filter.clean(raw[:cut])

    def finish(self) -> str:
        """What was held back, filtered (the answer ended)."""
        rest, self._held = self._held, ""
        return self._filter.clean(rest)
