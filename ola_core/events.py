"""Immutable events the :class:`~ola_core.assistant.Assistant` sends to its subscribers (the GUI).

Subscribers are called on the assistant's worker threads (loop, generation, player), never on the
GUI thread: a callback must return quickly and must not call back into the assistant while
holding its own locks. ``app/bridge.py`` re-emits each event as a queued Qt signal. Events are
frozen dataclasses; frames travel as numpy arrays inside :class:`TimedFrame` (the GUI builds
QImages from them). All ``t`` fields are ``time.monotonic()`` seconds.

The set of event classes and their fields is part of the contract with the GUI: add fields
with defaults, never rename.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ola_core.media_types import TimedFrame
from ola_core.trace import TurnKind, TurnOutcome, TurnTrace

# loading: the model is being loaded (ModelLoadProgress events follow).
# idle: nothing happening; with hands-free on the microphone is open and waits for speech.
# listening: an utterance is being captured (VAD heard speech, or push-to-talk is held).
# thinking: the turn went to the model; no answer audio yet.
# speaking: answer audio is playing (generation may still be running).
# error: the model could not be loaded; only apply_settings / start can leave this state.
AssistantState = Literal["loading", "idle", "listening", "thinking", "speaking", "error"]
SourceKind = Literal["camera", "screen", "off"]
# Where a problem happened; the GUI picks its banner action from it (e.g. "choose another microphone").
ProblemArea = Literal[
    "model",
    "microphone",
    "speaker",
    "camera",
    "screen",
    "generation",
    "synthesis",
    "media",
    "settings",
    "internal",
]


@dataclass(frozen=True)
class StateChanged:
    state: AssistantState
    previous: AssistantState
    hands_free: bool  # the pill shows "Listening" for idle+hands_free, "Idle"/"Hold Space" otherwise
    muted: bool
    t: float


@dataclass(frozen=True)
class InputLevel:
    """Microphone level of the last block (dBFS, −100 for silence), about 30 per second."""

    rms_dbfs: float
    peak_dbfs: float
    t: float


@dataclass(frozen=True)
class UserTurnCaptured:
    """The user's turn as it goes to the model: what was said/typed and the frames the model sees."""

    turn_id: int
    kind: TurnKind  # "voice" or "text"
    text: str  # typed text ("" for a voice turn)
    duration_s: float  # seconds of speech (0 for a typed turn without audio)
    frames: tuple[TimedFrame, ...] = field(repr=False)  # the exact frames given to the model
    frames_kind: Literal["camera", "screen"] = "camera"
    attachments: tuple[Path, ...] = ()
    t: float = 0.0
    # Per attachment (same order): its previews, the image or the video's sampled frames (audio: none).
    attachment_frames: tuple[tuple[TimedFrame, ...], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class UserCaption:
    """What the user said in a spoken turn, as Whisper heard it; comes after the answer has started."""

    turn_id: int
    text: str
    language: str  # Whisper's language code, e.g. "en", "zh"
    t: float


@dataclass(frozen=True)
class AssistantTextDelta:
    """New answer text as the model generates it (ahead of the audio)."""

    turn_id: int
    text: str
    t: float


@dataclass(frozen=True)
class SentenceSpoken:
    """The audio of sentence ``index`` of the answer started playing (highlight it in the transcript)."""

    turn_id: int
    index: int
    text: str
    start: int  # [start, end) char offsets in the answer text (AssistantTextDelta texts joined); -1 unknown
    end: int
    t: float


@dataclass(frozen=True)
class TurnFinished:
    """The answer ended: completed, interrupted by the user (barge-in / Stop) or failed."""

    turn_id: int
    text: str  # the full answer text as generated (interrupted answers are kept as they are)
    outcome: TurnOutcome
    trace: TurnTrace

    @property
    def interrupted(self) -> bool:
        return self.outcome in ("barge_in", "stopped")


@dataclass(frozen=True)
class WarningRaised:
    """Something degraded but the assistant carries on (e.g. echo cancellation unavailable)."""

    area: ProblemArea
    message: str  # for people: what happened and what to do
    t: float


@dataclass(frozen=True)
class ErrorRaised:
    """A failure the user should see; the assistant loop keeps running (the next turn works)."""

    area: ProblemArea
    message: str  # ``str(error)`` of the OlaError: written for people
    error_type: str  # class name, e.g. "AudioDeviceError", "InsufficientMemoryError"
    turn_id: int | None
    t: float


@dataclass(frozen=True)
class ModelLoadProgress:
    """Loading progress; ``fraction`` in 0..1, ``stage`` a short human phrase."""

    fraction: float
    stage: str
    t: float


@dataclass(frozen=True)
class ModelLoaded:
    """The model is ready (``description`` e.g. "Ola-7B NF4 on CUDA" or "interface-test model")."""

    description: str
    load_s: float
    t: float


@dataclass(frozen=True)
class DeviceEvent:
    """A microphone/speaker/camera/screen went away or came back."""

    kind: Literal["microphone", "speaker", "camera", "screen"]
    name: str
    available: bool
    message: str  # for people (empty when available)
    t: float


@dataclass(frozen=True)
class SourceChanged:
    """The visual source turned to camera/screen/off (the GUI updates its indicator and preview)."""

    kind: SourceKind
    index: int
    t: float


@dataclass(frozen=True)
class AttachmentsChanged:
    """Files waiting to go with the next turn."""

    paths: tuple[Path, ...]
    t: float


@dataclass(frozen=True)
class ConversationReset:
    t: float


AssistantEvent = (
    StateChanged
    | InputLevel
    | UserTurnCaptured
    | UserCaption
    | AssistantTextDelta
    | SentenceSpoken
    | TurnFinished
    | WarningRaised
    | ErrorRaised
    | ModelLoadProgress
    | ModelLoaded
    | DeviceEvent
    | SourceChanged
    | AttachmentsChanged
    | ConversationReset
)
Subscriber = Callable[[AssistantEvent], None]
