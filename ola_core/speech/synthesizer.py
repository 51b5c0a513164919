"""The `Synthesizer` contract every voice implements, and the watchdog that guards it.

A synthesizer turns one sentence into float32 mono PCM chunks at its declared ``sample_rate``.
It is driven from one synthesis thread, sentence after sentence, each call with the turn's
:class:`~ola_core.cancel.CancelToken`: once the token is set (barge-in, from any thread) the call
stops between chunks; a voice with a slow step (a subprocess) also registers a callback on it.

A voice that can start speaking a sentence before its text is complete (CosyVoice2's
bi-streaming) says so with ``streams_text`` and implements :meth:`Synthesizer.synthesize_pieces`:
the speech pipeline then hands it the sentence's words as the model writes them. Every other
voice gets whole chunks (the default ``synthesize_pieces`` waits for all the pieces).

Why a watchdog: the CosyVoice runtime can hang forever when its LLM thread dies (it polls a
dictionary that is never filled; docs/speech-output-notes.md §1.2), and a hung synthesizer would hang the
whole turn. :class:`WatchdogSynthesizer` runs the wrapped generator on a worker thread and turns
"no chunk for N seconds" into :class:`~ola_core.errors.SynthesisError`. A Python thread cannot
be killed, so a truly stuck worker is cancelled and abandoned (it is a daemon thread); every
synthesizer that checks its token between chunks leaves nothing behind.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ola_core.cancel import CancelToken
from ola_core.errors import OlaError, SynthesisError

__all__ = ["Synthesizer", "WatchdogSynthesizer"]


class Synthesizer(ABC):
    """One voice engine: text in, float32 mono PCM chunks (values in [-1, 1]) out.

    Subclasses set the three class (or instance) attributes and implement ``synthesize``, which
    checks ``cancel.is_set()`` between chunks (a token per call, rather than a flag on the voice
    that ``synthesize`` would clear, makes a cancel that races with the start of the next
    sentence harmless: only the cancelled turn's calls stop).
    """

    name: str
    sample_rate: int
    languages: frozenset[str]  # ISO 639-1 codes this voice speaks well, e.g. {"en"} or {"zh", "en"}
    streams_text: bool = False  # synthesize_pieces speaks before the last piece has arrived

    @abstractmethod
    def synthesize(
        self, text: str, voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        """Yield float32 mono chunks (n,) for ``text``; stop between chunks once ``cancel`` is set."""

    def streams_text_for(self, text: str) -> bool:
        """Whether a sentence starting with ``text`` would be streamed (a voice that routes each
        sentence to another engine, by its language, answers for the engine it would pick)."""
        return self.streams_text

    def synthesize_pieces(
        self, pieces: Iterable[str], voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        """Like ``synthesize`` for text that arrives in pieces (words with their leading space; the
        iterator may block until the next one exists). This default waits for the whole text; a
        voice with ``streams_text`` starts before the last piece."""
        yield from self.synthesize("".join(pieces), voice, cancel)

    def warm_up(self) -> None:
        """Pay one-off costs (sessions, caches, graph compilation) before the first real sentence."""
        for _ in self.synthesize("Hello."):
            pass

    def voices(self) -> tuple[str, ...]:
        """Names accepted as ``voice``; empty when the engine has a single voice."""
        return ()


@dataclass(frozen=True)
class _Chunk:
    pcm: np.ndarray


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()
_worker_ids = itertools.count()


class _TextFeed:
    """The pieces a voice reads, with when it last got one and whether it waits for the next."""

    def __init__(self, pieces: Iterable[str]) -> None:
        self._pieces = pieces
        self.waiting = False  # blocked until the model writes more: not a stall of the voice
        self.last = time.monotonic()  # when the voice last received text

    def __iter__(self) -> Iterator[str]:
        pieces = iter(self._pieces)
        while True:
            self.waiting = True
            try:
                piece = next(pieces)
            except StopIteration:
                return
            finally:
                self.waiting = False
                self.last = time.monotonic()
            yield piece


class WatchdogSynthesizer(Synthesizer):
    """Wraps a synthesizer so that a stall or crash becomes a :class:`SynthesisError`.

    ``first_chunk_timeout`` bounds the wait for the first chunk of a sentence (model start-up and
    the first streamed packet of a large model are slow), ``chunk_timeout`` the wait for each
    further chunk. Exceptions from the wrapped engine are re-raised as ``SynthesisError`` (an
    :class:`~ola_core.errors.OlaError` already meant for the user passes through unchanged).
    """

    def __init__(
        self, inner: Synthesizer, *, first_chunk_timeout: float = 20.0, chunk_timeout: float = 10.0
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.languages = inner.languages
        self.streams_text = inner.streams_text
        self.first_chunk_timeout = first_chunk_timeout
        self.chunk_timeout = chunk_timeout

    def voices(self) -> tuple[str, ...]:
        return self.inner.voices()

    def streams_text_for(self, text: str) -> bool:
        return self.inner.streams_text_for(text)

    def warm_up(self) -> None:
        self._guard(self.inner.warm_up, self.first_chunk_timeout, "warming up")

    def synthesize(
        self, text: str, voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        return self._watch(lambda inner: self.inner.synthesize(text, voice, inner), cancel, None)

    def synthesize_pieces(
        self, pieces: Iterable[str], voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        """Under the same watchdog; the time the voice spends waiting for the next piece (the model
        is still writing) does not count as a stall."""
        feed = _TextFeed(pieces)
        return self._watch(lambda inner: self.inner.synthesize_pieces(feed, voice, inner), cancel, feed)

    def _watch(
        self,
        start: Callable[[CancelToken], Iterator[np.ndarray]],
        cancel: CancelToken | None,
        feed: _TextFeed | None,
    ) -> Iterator[np.ndarray]:
        """Run ``start(token)``'s chunks on a worker thread and hand them over; see the class doc."""
        turn = cancel or CancelToken()
        # The inner call's own token: set by the turn's, by a stall, or when this generator closes.
        inner = CancelToken()
        unlink = turn.on_cancel(inner.cancel)
        chunks: queue.Queue[_Chunk | _Failed | object] = queue.Queue()

        def work() -> None:
            stream = start(inner)
            try:
                for pcm in stream:
                    if inner.is_set():
                        return
                    chunks.put(_Chunk(pcm))
                chunks.put(_DONE)
            except BaseException as error:  # handed to the consumer, which raises it
                chunks.put(_Failed(error))
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()

        worker = threading.Thread(target=work, name=f"synth-{self.name}-{next(_worker_ids)}", daemon=True)
        worker.start()
        timeout = self.first_chunk_timeout
        try:
            while True:
                item = self._next(chunks, timeout, turn, inner, feed)
                if item is None:  # cancelled
                    return
                if item is _DONE:
                    worker.join()
                    return
                if isinstance(item, _Failed):
                    raise _as_synthesis_error(self.name, item.error)
                assert isinstance(item, _Chunk)
                yield item.pcm
                timeout = self.chunk_timeout
        finally:
            unlink()
            inner.cancel("closed")

    def _next(
        self,
        chunks: queue.Queue[_Chunk | _Failed | object],
        timeout: float,
        turn: CancelToken,
        inner: CancelToken,
        feed: _TextFeed | None,
    ) -> _Chunk | _Failed | object | None:
        """The next item from the worker, None once cancelled; raises after ``timeout`` seconds
        without a chunk (counted from the last piece of text the voice received, if later)."""
        deadline = time.monotonic() + timeout
        while True:
            if turn.is_set():
                return None
            if feed is not None:
                deadline = max(deadline, feed.last + timeout)
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not (feed is not None and feed.waiting):
                inner.cancel("stalled")
                raise SynthesisError(
                    f"The {self.name} voice stopped responding (no audio for "
                    f"{timeout:g} s). The answer is still shown as text; "
                    "if this repeats, choose another voice in the settings."
                )
            try:
                # Short waits so that a cancel() is noticed promptly even while the engine stalls.
                return chunks.get(timeout=min(remaining, 0.02) if remaining > 0 else 0.02)
            except queue.Empty:
                continue

    def _guard(self, call: Callable[[], None], timeout: float, doing: str) -> None:
        """Run ``call()`` on a worker thread; a crash or an overrun becomes a SynthesisError."""
        outcome: list[BaseException | None] = []

        def work() -> None:
            try:
                call()
                outcome.append(None)
            except BaseException as error:
                outcome.append(error)

        worker = threading.Thread(target=work, name=f"synth-{self.name}-{doing}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():  # abandoned (a daemon thread): a warm-up has no turn to cancel it
            raise SynthesisError(
                f"The {self.name} voice did not finish {doing} within {timeout:g} s. "
                "Choose another voice in the settings, or check that its model files are complete."
            )
        if outcome and outcome[0] is not None:
            raise _as_synthesis_error(self.name, outcome[0])


def _as_synthesis_error(name: str, error: BaseException) -> OlaError:
    if isinstance(error, OlaError):
        return error
    wrapped = SynthesisError(
        f"The {name} voice failed ({type(error).__name__}: {error}). The answer is still shown as text; "
        "if this repeats, choose another voice in the settings."
    )
    wrapped.__cause__ = error
    return wrapped
