"""The plain data the engine exchanges with its callers: turns in, text deltas and statistics out.

Nothing here runs the model; the assistant and the GUI build turns and read statistics with these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ola_core.media_types import TimedFrame
from ola_core.processing.generation import DecodingSettings

FramesKind = Literal["camera", "screen"]
StopReason = Literal["eos", "max_new_tokens", "cancelled", "dropped", "error"]  # dropped: a speculation


@dataclass(frozen=True)
class Turn:
    """What the user gave in one turn; any combination of the fields may be set.

    ``frames`` are what the camera or screen showed while the user spoke. Camera frames go to
    the model as a video (with the speech as its audio track when there is speech — "video is
    the bridge", the way Ola was trained); a screen goes as one image of its newest frame,
    because the high-resolution image view is what makes text on a screen readable.
    ``voice`` marks a spoken conversation: the answer will be read aloud, so the engine asks the
    model for a spoken style (unless the settings name their own system prompt).
    """

    text: str = ""
    speech: np.ndarray | None = None  # (n,) float32 mono, 16 kHz
    frames: Sequence[TimedFrame] = ()
    frames_kind: FramesKind = "camera"
    images: Sequence[Path | np.ndarray] = ()  # files, or RGB pixels already decoded (by ask)
    video: Path | None = None  # a video file, or a folder of frames
    # An audio file to listen to (not the user's question): with a video it is the clip's sound
    # and replaces the file's own soundtrack, as the official infer.py's --audio_path does.
    sound: Path | None = None
    voice: bool = False

    def is_empty(self) -> bool:
        return (
            not self.text.strip()
            and (self.speech is None or self.speech.size == 0)
            and not self.frames
            and not self.images
            and self.video is None
            and self.sound is None
        )


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer as it is generated: always whole characters (never half a UTF-8 sequence).

    ``token_ids`` are the generated tokens whose text this delta completes (a character split
    over several byte tokens arrives with the delta of its last byte). ``t`` is ``time.monotonic()``
    when the delta was decoded.
    """

    text: str
    token_ids: tuple[int, ...]
    t: float


@dataclass(frozen=True)
class GenerationSettings(DecodingSettings):
    """Decoding settings (official defaults, ``ola_core.processing.generation``) plus the conversation's voice.

    ``system_prompt`` None means: the official "You are a helpful assistant." for typed
    conversations, :data:`SPOKEN_SYSTEM_PROMPT` for spoken ones. ``language`` None means "answer
    in the user's language"; a name such as "English" asks for that language. ``seed`` makes
    sampling reproducible.
    """

    system_prompt: str | None = None
    language: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not self.greedy and self.temperature <= 0:
            raise ValueError("temperature must be positive when sampling (use greedy=True for arg-max)")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be positive, got {self.repetition_penalty}")


OFFICIAL_SYSTEM_PROMPT = "You are a helpful assistant."
SPOKEN_SYSTEM_PROMPT = (
    "You are a helpful voice assistant. Your answers are read aloud: answer in short, plain spoken "
    "sentences, without markdown, tables, lists or code, and in the language the user speaks."
)


def system_prompt_for(settings: GenerationSettings, voice: bool) -> str:
    """The system prompt of a conversation whose first turn is ``voice`` (or not)."""
    prompt = settings.system_prompt or (SPOKEN_SYSTEM_PROMPT if voice else OFFICIAL_SYSTEM_PROMPT)
    if settings.language:
        prompt = f"{prompt} Always answer in {settings.language}."
    return prompt


@dataclass
class TurnStats:
    """Timing marks (``time.monotonic()``) and sizes of one turn; the source of the engine's figures.

    ``prompt_tokens`` counts the positions prefilled for this turn (its own tokens and media
    when the earlier turns' cache was reused, the whole conversation otherwise);
    ``context_tokens`` the positions in the cache when the answer ended.
    """

    t_start: float
    t_encoders_done: float | None = None
    t_prefill_done: float | None = None
    t_first_token: float | None = None
    t_end: float | None = None
    delta_times: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    context_tokens: int = 0
    token_ids: list[int] = field(default_factory=list)  # generated, without the stop token
    text: str = ""
    stop_reason: StopReason | None = None
    reused_cache: bool = False  # earlier turns came from the KV cache
    dropped_media: int = 0  # earlier turns whose media were dropped to fit the context
    dropped_turns: int = 0  # earliest turns dropped to fit the context
    oom_retries: int = 0
    peak_memory_bytes: int | None = None
    memory_kind: Literal["cuda", "rss"] | None = None

    @property
    def new_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def ttft_s(self) -> float | None:
        """Seconds from the start of the turn to its first generated token."""
        return None if self.t_first_token is None else self.t_first_token - self.t_start

    @property
    def tokens_per_s(self) -> float | None:
        """Decode speed: tokens after the first, over the time after the first."""
        if self.t_first_token is None or self.t_end is None or len(self.token_ids) < 2:
            return None
        elapsed = self.t_end - self.t_first_token
        return (len(self.token_ids) - 1) / elapsed if elapsed > 0 else None

    @property
    def interrupted(self) -> bool:
        return self.stop_reason in ("cancelled", "error")
