"""What the assistant's loop receives: one frozen dataclass per command, and the internal reports.

The public methods of :class:`~ola_core.assistant.core.Assistant` put a command on the loop's
inbox; the loop dispatches on its type with ``match`` (mypy checks every field). Capture events
(``ola_core.capture.events``), speech events (``ola_core.speech.pipeline``, each with its turn)
and the answer thread's :class:`~ola_core.assistant.answer.GenerationEnded` arrive on the same
inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ola_core.capture.frames import FrameSource
from ola_core.errors import OlaError
from ola_core.events import SourceKind
from ola_core.settings import Settings


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Shutdown:
    pass


@dataclass(frozen=True)
class SendText:
    text: str


@dataclass(frozen=True)
class Attach:
    path: Path


@dataclass(frozen=True)
class ClearAttachments:
    pass


@dataclass(frozen=True)
class PushToTalk:
    down: bool
    t: float


@dataclass(frozen=True)
class SetHandsFree:
    on: bool


@dataclass(frozen=True)
class Stop:
    t: float


@dataclass(frozen=True)
class SetMuted:
    muted: bool


@dataclass(frozen=True)
class Reset:
    t: float
    past: tuple[tuple[str, str], ...] = ()  # (question, answer) text turns the new conversation continues


@dataclass(frozen=True)
class SetSource:
    kind: SourceKind
    index: int
    region: tuple[int, int, int, int] | None


@dataclass(frozen=True)
class UseFrameSource:
    source: FrameSource
    kind: Literal["camera", "screen"]


@dataclass(frozen=True)
class ApplySettings:
    settings: Settings


Command = (
    Start
    | Shutdown
    | SendText
    | Attach
    | ClearAttachments
    | PushToTalk
    | SetHandsFree
    | Stop
    | SetMuted
    | Reset
    | SetSource
    | UseFrameSource
    | ApplySettings
)


@dataclass(frozen=True)
class Loaded:
    engine: object  # which engine (a reload may have replaced it meanwhile)
    description: str
    load_s: float


@dataclass(frozen=True)
class LoadFailed:
    engine: object
    error: OlaError
