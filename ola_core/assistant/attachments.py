"""Checking dropped files off the assistant's loop.

Decoding an attached image, video or audio file to check it (and to make its previews) can take
a second or more; the loop must never wait on it. Each check runs on a short ``attach-check``
thread and reports back as an :class:`AttachmentChecked` message. A question sent while checks
are running waits for them (its attachments go with it); clearing the attachments or starting a
new conversation makes the checks still running stale, and their reports are dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ola_core.assistant.answer import check_attachment
from ola_core.errors import MediaError, OlaError
from ola_core.media_types import TimedFrame


@dataclass(frozen=True)
class AttachmentChecked:
    """A check's result, posted to the loop: previews, or why the file cannot go with a question."""

    path: Path
    previews: tuple[TimedFrame, ...]
    error: OlaError | None
    generation: int  # the checks' generation it belongs to (stale once attachments are cleared)


class AttachmentChecks:
    """The loop's view of the checks in flight (used on the loop thread only)."""

    def __init__(self, post: Callable[[AttachmentChecked], None]) -> None:
        self._post = post
        self._generation = 0
        self._running = 0
        self._deferred: list[str] = []

    @property
    def busy(self) -> bool:
        """A check is running (the assistant is not idle until its report is handled)."""
        return self._running > 0

    def start(self, path: Path) -> None:
        self._running += 1
        generation = self._generation

        def check() -> None:
            try:
                self._post(AttachmentChecked(path, check_attachment(path), None, generation))
            except OlaError as error:
                self._post(AttachmentChecked(path, (), error, generation))
            except Exception as error:  # a decoder's own crash is still a bad file, not a dead loop
                failed = MediaError(f"{path.name} could not be read ({type(error).__name__}: {error}).")
                self._post(AttachmentChecked(path, (), failed, generation))

        threading.Thread(target=check, name="attach-check", daemon=True).start()

    def accept(self, message: AttachmentChecked) -> bool:
        """True for a current check's report (False: the attachments were cleared meanwhile)."""
        if message.generation != self._generation:
            return False
        self._running -= 1
        return True

    def defer(self, text: str) -> bool:
        """Keep a question until the running checks are done (True), or let it go now (False)."""
        if not self._running:
            return False
        self._deferred.append(text)
        return True

    def ready_questions(self) -> list[str]:
        """The questions kept for the checks, once none is running."""
        if self._running:
            return []
        questions, self._deferred = self._deferred, []
        return questions

    def forget(self) -> None:
        """Attachments cleared or a new conversation: running checks go stale, kept questions go."""
        self._generation += 1
        self._running = 0
        self._deferred.clear()
