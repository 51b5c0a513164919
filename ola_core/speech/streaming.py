"""A sentence whose text is still being written, for a voice that streams text (CosyVoice2).

With such a voice (:attr:`~ola_core.speech.synthesizer.Synthesizer.streams_text`) the speech
pipeline does not wait for the splitter to release a sentence: once the text received since the
last chunk (:meth:`~ola_core.speech.splitter.SentenceSplitter.pending`) holds
:data:`MIN_STREAM_WORDS` words that can no longer change, it opens a :class:`PieceStream` for the
next sentence and queues it for synthesis like a finished one; every further word is pushed to it
as the model writes it, and when the splitter releases the chunk the rest is pushed and the
stream ends. The voice reads :meth:`PieceStream.pieces` on the synthesis thread.

Only words that cannot change are pushed: everything before the last white space of the pending
text (the last word may still grow: "the" → "there"), or, in CJK text, every character before a
trailing run of Latin letters or digits. CosyVoice2 reads text in rounds of 5 tokens, interleaved
with 15 speech tokens (its bi-streaming), so the stream opens with about one round's worth.

Events: a streamed sentence's SentenceQueued is sent when its stream opens (with the words known
then); its SentenceStarted keeps its meaning (``t``: the first sample at the DAC) but carries the
whole sentence, so it is sent once both are known (the first audio usually plays before the
sentence is complete; the transcript highlights whole sentences).
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

from ola_core.cancel import CancelToken

__all__ = ["MIN_STREAM_WORDS", "PieceStream", "stable_prefix", "word_count"]

log = logging.getLogger(__name__)

MIN_STREAM_WORDS = 5  # CosyVoice2's bistream takes 5 text tokens per 15 speech tokens
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_WORDS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_UNFINISHED = re.compile(rf"[^\s{_CJK}]+$")  # a trailing Latin word or number: it may still grow
_END = object()
U = TypeVar("U")  # what the stream belongs to (the pipeline's utterance)


def stable_prefix(pending: str) -> str:
    """The beginning of ``pending`` (cleaned text, no trailing space) that later text cannot change."""
    unfinished = _UNFINISHED.search(pending)
    return pending[: unfinished.start()].rstrip() if unfinished else pending


def word_count(text: str) -> int:
    """Words, each CJK character counting as one."""
    return len(_WORDS.findall(text))


class PieceStream(Generic[U]):
    """One sentence being written: the feeding thread pushes its text, the voice reads it.

    ``text`` is the words pushed so far until the splitter releases the chunk, then the chunk.
    """

    def __init__(self, utterance: U, index: int, token: CancelToken, carried: str = "") -> None:
        self.utterance = utterance
        self.index = index
        self._token = token
        self._queue: queue.SimpleQueue[str | object] = queue.SimpleQueue()
        self._pushed = carried  # cleaned text given so far (``carried``: said by the previous one)
        self._final: str | None = None
        self._t_started: float | None = None
        self._lock = threading.Lock()

    @property
    def text(self) -> str:
        final = self._final
        return final if final is not None else self._pushed

    @property
    def complete(self) -> bool:
        return self._final is not None

    def push(self, stable: str) -> None:
        """The sentence's text that can no longer change (it grows with every call)."""
        if self._final is None and stable.startswith(self._pushed) and len(stable) > len(self._pushed):
            self._queue.put(stable[len(self._pushed) :] if self._pushed else stable)
            self._pushed = stable

    def finish(self, chunk: str) -> tuple[str, float | None]:
        """The splitter released the sentence: push the rest and end the stream.

        Returns the words pushed beyond ``chunk`` (already spoken: the next sentence must skip
        them; "" normally) and the time its first sample played if that was reported already.
        """
        overshoot = ""
        if chunk.startswith(self._pushed):
            self.push(chunk)
        elif self._pushed.startswith(chunk):
            overshoot = self._pushed[len(chunk) :].strip()
        else:  # the splitter's cleaning changed words already spoken; never expected
            log.warning("streamed sentence %r does not start with the words spoken %r", chunk, self._pushed)
        self._queue.put(_END)
        with self._lock:
            self._final = chunk
            return overshoot, self._t_started

    def started(self, t: float) -> bool:
        """Its first sample played at ``t``; True when the sentence is complete (report it now)."""
        with self._lock:
            self._t_started = t
            return self._final is not None

    def pieces(self) -> Iterator[str]:
        """The text as it arrives (blocks until the next piece); ends with the sentence or a cancel."""
        while not self._token.is_set():
            try:
                piece = self._queue.get(timeout=0.02)
            except queue.Empty:
                continue
            if piece is _END:
                return
            assert isinstance(piece, str)
            yield piece
