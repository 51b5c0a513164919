"""The caller's side of :meth:`~ola_core.engine.engine.OlaEngine.stream`: deltas from the turn's
worker thread through a queue, ended by :data:`DONE` or an exception."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from ola_core.cancel import CancelToken
from ola_core.engine.types import TextDelta

DONE = object()  # the worker's last item when the turn ended without an error


def relay(deltas: queue.Queue[object], cancel: CancelToken, worker: threading.Thread) -> Iterator[TextDelta]:
    """The caller's side of a turn; leaving the loop early (break, close) cancels the turn."""
    finished = False
    try:
        while True:
            item = deltas.get()
            if item is DONE:
                finished = True
                return
            if isinstance(item, BaseException):
                finished = True
                raise item
            assert isinstance(item, TextDelta)
            yield item
    finally:
        if not finished:
            cancel.cancel("stopped")
            worker.join()
