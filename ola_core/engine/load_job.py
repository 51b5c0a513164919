"""`LoadJob`: a model load running on its own ``ola-load`` thread, cancellable and awaitable."""

from __future__ import annotations

import threading
from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]  # (fraction 0..1, stage text)
LoadFunction = Callable[[ProgressCallback | None, threading.Event], None]


class LoadJob:
    """A load running on its own thread: ``cancel()``, ``wait()``, then ``error`` (None on success)."""

    def __init__(self) -> None:
        self.cancel_event = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        load: LoadFunction,
        progress: ProgressCallback | None,
        on_done: Callable[[BaseException | None], None] | None,
    ) -> LoadJob:
        """Run ``load(progress, cancel_event)``; ``on_done(error or None)`` is called from the thread."""
        job = cls()

        def run() -> None:
            try:
                load(progress, job.cancel_event)
            except BaseException as error:  # handed to the caller, who decides what to show
                job.error = error
            finally:
                job.done.set()
                if on_done is not None:
                    on_done(job.error)

        job.thread = threading.Thread(target=run, name="ola-load", daemon=True)
        job.thread.start()
        return job

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True when the load has ended (successfully or not) within ``timeout``."""
        return self.done.wait(timeout)
