"""`CancelToken`: the one cancellation signal of a turn, seen by every part that works on it.

The assistant creates one token per turn and hands it to the engine (checked before every
prefill chunk and decode step), the speech pipeline (drops the turn's queued sentences), the
synthesizer (checked between chunks) and the player (drops the turn's pending notices). A
barge-in or Stop sets it once, from the assistant's loop, and returns at once: nobody waits for
anybody; each part notices the token at its next check, and the turn's end arrives later as a
message.

The token is set once: the first :meth:`CancelToken.cancel` wins and records its ``reason``
(the turn's outcome, e.g. ``"barge_in"``); later calls change nothing. ``is_set`` is a plain
attribute read (cheap enough for every decode step), :meth:`wait` blocks like
``threading.Event.wait``, and :meth:`on_cancel` callbacks let a part react at once (the player
falls silent, a voice's subprocess is killed) instead of at its next check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["CancelToken"]

log = logging.getLogger(__name__)

CancelCallback = Callable[[str], object]  # the result is ignored


class CancelToken:
    """Set once with a reason; see the module docstring. Every method is safe from any thread."""

    __slots__ = ("_callbacks", "_event", "_lock", "_reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._callbacks: list[CancelCallback] = []

    def __repr__(self) -> str:
        return f"CancelToken(reason={self._reason!r})"

    @property
    def reason(self) -> str | None:
        """Why it was cancelled (the first reason given); None while not cancelled."""
        return self._reason

    def is_set(self) -> bool:
        """True once cancelled (the same name as ``threading.Event.is_set``: code may take either)."""
        return self._event.is_set()

    def cancel(self, reason: str = "cancelled") -> bool:
        """Cancel with ``reason``; True for the call that did it, False when it was already set.

        The callbacks run on the calling thread, in registration order, after the token is set;
        an exception in one is logged and the others still run.
        """
        with self._lock:
            if self._reason is not None:
                return False
            self._reason = reason
            callbacks, self._callbacks = self._callbacks, []
            self._event.set()
        for callback in callbacks:
            try:
                callback(reason)
            except Exception:
                log.exception("cancel callback %r failed", callback)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or ``timeout`` seconds passed; True when cancelled."""
        return self._event.wait(timeout)

    def on_cancel(self, callback: CancelCallback) -> Callable[[], None]:
        """Call ``callback(reason)`` when cancelled (at once, here, if it already is).

        Returns a function that removes the callback: a part that finished its work unregisters,
        so a token that lives for a whole turn does not keep calling into finished work.
        """
        with self._lock:
            reason = self._reason
            if reason is None:
                self._callbacks.append(callback)
        if reason is not None:
            callback(reason)
            return _nothing

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove


def _nothing() -> None:
    """The remover of a callback that already ran."""
