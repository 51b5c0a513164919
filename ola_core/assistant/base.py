"""The assistant's state and its event output, shared by the loop's handlers.

:class:`AssistantBase` holds every field of the :class:`~ola_core.assistant.core.Assistant` and the
few helpers all its handlers use (emit an event, report an error or a warning, change the
state). The handlers are split by subject: :class:`~ola_core.assistant.turns.TurnLifecycle`
(capture events → turns, cancellation, the end of a turn) and the Assistant itself (commands,
the loop, loading).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ola_core.assistant.answer import (
    AnswerFilter,
    AnswerRun,
    GenerationEnded,
)
from ola_core.assistant.attachments import AttachmentChecked, AttachmentChecks
from ola_core.assistant.audio_in import AudioInput
from ola_core.assistant.components import Components
from ola_core.assistant.echo import EchoGuard
from ola_core.assistant.messages import (
    Command,
    Loaded,
    LoadFailed,
)
from ola_core.capture.events import (
    CaptureEvent,
)
from ola_core.capture.frames import FrameSource
from ola_core.errors import (
    OlaError,
)
from ola_core.events import (
    AssistantEvent,
    AssistantState,
    ErrorRaised,
    ProblemArea,
    SourceKind,
    StateChanged,
    Subscriber,
    WarningRaised,
)
from ola_core.media_types import TimedFrame
from ola_core.settings import Settings
from ola_core.speech.pipeline import SpeechEvent

log = logging.getLogger(__name__)

Message = Command | GenerationEnded | Loaded | LoadFailed | AttachmentChecked | CaptureEvent | SpeechEvent


@dataclass
class Pending:
    """What goes with the next turn besides speech/text."""

    attachments: list[Path] = field(default_factory=list)
    previews: dict[Path, tuple[TimedFrame, ...]] = field(default_factory=dict)  # see assistant/previews.py

    def add(self, path: Path, previews: tuple[TimedFrame, ...]) -> None:
        self.attachments.append(path)
        self.previews[path] = previews

    def clear(self) -> None:
        self.attachments.clear()
        self.previews.clear()


class AssistantBase:
    """The fields and output helpers of an assistant; see the module docstring."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        components: Components | None = None,
        audio_input: AudioInput | None = None,
        echo: EchoGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
        answer_filter: Callable[[], AnswerFilter] | None = None,
    ) -> None:
        self._settings = settings or Settings()
        self._answer_filter = answer_filter  # a new filter per answer (booth's word filter); None: none
        self._components = components
        self._audio_input_given = audio_input
        self._audio_input: AudioInput | None = None
        self._clock = clock
        self._inbox: queue.Queue[Message] = queue.Queue()
        self._subscribers: list[Subscriber] = []
        self._subscribers_lock = threading.Lock()
        self._state: AssistantState = "loading"
        self._hands_free = self._settings.audio.hands_free
        self._muted = False
        self._ptt_down = False
        self._speech_active = False  # an utterance is being captured (between start and end)
        self._speech_over_answer = False
        self._pending = Pending()
        self._checks = AttachmentChecks(self._inbox.put)  # attached files, checked off the loop
        self._answer: AnswerRun | None = None
        self._ending: list[AnswerRun] = []  # cancelled runs whose end has not arrived yet
        self._turn_ids = 0
        self._source: FrameSource | None = None
        self._source_kind: SourceKind = "off"
        self._source_index = 0
        self._echo_given = echo
        self._echo = echo or EchoGuard(self._settings.audio.echo_mode)
        self._loop_thread: threading.Thread | None = None
        self._loader: threading.Thread | None = None
        self._load_cancel = threading.Event()
        self._idle = threading.Event()
        self._stopping = False

    # ------------------------------------------------------------------ events out
    def _emit(self, event: AssistantEvent) -> None:
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", callback, type(event).__name__)

    def _error(self, area: ProblemArea, error: BaseException, turn_id: int | None = None) -> None:
        if not isinstance(error, OlaError):
            log.error("unexpected %s in %s", type(error).__name__, area, exc_info=error)
            message = f"Something went wrong ({type(error).__name__}: {error}). The assistant keeps running."
        else:
            log.warning("%s error: %s", area, error)
            message = str(error)
        self._emit(ErrorRaised(area, message, type(error).__name__, turn_id, self._clock()))

    def _warn(self, area: ProblemArea, message: str) -> None:
        log.warning("%s: %s", area, message)
        self._emit(WarningRaised(area, message, self._clock()))

    def _set_state(self, state: AssistantState) -> None:
        if state == self._state:
            return
        previous, self._state = self._state, state
        self._emit(StateChanged(state, previous, self._hands_free, self._muted, self._clock()))

    def _forget_past_audio(self) -> None:
        """A new conversation keeps no audio of the last one (the microphone's ring of recent seconds)."""
        if self._audio_input is not None:
            self._audio_input.forget_past()

    # ------------------------------------------------------------------ speech events
    def _ready_for_turn(self) -> bool:
        if self._state == "loading":
            self._warn("model", "The model is still loading; ask again when it is ready.")
            return False
        if self._state == "error":
            self._warn("model", "No model is loaded. Open the settings and choose the model folder.")
            return False
        return True
