"""One answer: engine deltas → transcript events and the speech output, cancellable at any point.

An :class:`AnswerRun` owns the generation thread of one turn. It streams the engine's deltas
into ``AssistantTextDelta`` events and into the speech session (sentence splitting, synthesis
and playback run on the speech output's threads), records the turn's trace, and reports its end
to the assistant loop. ``cancel`` (barge-in, Stop) stops generation, synthesis and playback
together; the loop then waits for the run with :meth:`AnswerRun.wait_outcome`, and the time
from the request to that moment is the trace's cancel latency.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from ola_core.engine.types import GenerationSettings, Turn
from ola_core.errors import (
    AudioDeviceError,
    CameraError,
    GenerationError,
    InsufficientMemoryError,
    MediaError,
    OlaError,
    ScreenCaptureError,
    SynthesisError,
)
from ola_core.events import AssistantEvent, AssistantTextDelta, ProblemArea, SentenceSpoken
from ola_core.media_types import TimedFrame
from ola_core.processing.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES
from ola_core.settings import Settings
from ola_core.trace import TraceRecorder, TurnOutcome

if TYPE_CHECKING:
    from ola_core.assistant.speech_out import SpeechOutput, SpeechSession

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {
    "en": "English",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
}
CANCEL_WAIT_S = 5.0  # longest the loop waits for a cancelled run (a prefill cannot stop mid-way)


class Engine(Protocol):
    """What the assistant uses of :class:`ola_core.engine.OlaEngine`."""

    @property
    def loaded(self) -> bool: ...
    @property
    def description(self) -> str: ...
    def warm_up(self) -> float: ...
    def load(self, progress: Callable[[float, str], None], cancel: threading.Event) -> None: ...
    def stream(self, turn: Turn, settings: GenerationSettings | None = None) -> Any: ...
    def cancel(self) -> None: ...
    def mark_interrupted(self) -> None: ...
    def reset(self) -> None: ...
    @property
    def last_stats(self) -> Any: ...


@dataclass(frozen=True)
class AnswerOutcome:
    outcome: TurnOutcome
    text: str
    error: BaseException | None = None
    area: ProblemArea = "generation"


def generation_settings(settings: Settings) -> GenerationSettings:
    """The engine's generation settings from the user's settings (temperature 0 = greedy)."""
    g = settings.generation
    return GenerationSettings(
        temperature=g.temperature if g.temperature > 0 else 1.0,
        greedy=g.temperature <= 0,
        top_k=g.top_k,
        top_p=g.top_p,
        repetition_penalty=g.repetition_penalty,
        max_new_tokens=g.max_new_tokens,
        system_prompt=g.system_prompt or None,
        language=None
        if settings.language == "auto"
        else LANGUAGE_NAMES.get(settings.language, settings.language),
    )


def build_turn(
    *,
    text: str,
    speech: np.ndarray | None,
    frames: Sequence[TimedFrame],
    frames_kind: Literal["camera", "screen"],
    attachments: Sequence[Path],
) -> Turn:
    """The engine's Turn: utterance PCM (int16) → float32, attachments sorted by kind."""
    pcm = None if speech is None else speech.astype(np.float32) / 32768.0
    images = [p for p in attachments if p.suffix.lower() in IMAGE_SUFFIXES]
    videos = [p for p in attachments if p.suffix.lower() in VIDEO_SUFFIXES]
    audios = [p for p in attachments if p.suffix.lower() in AUDIO_SUFFIXES]
    if len(videos) > 1:
        raise MediaError("Only one video can go with a question. Remove the others and ask again.")
    if audios:
        if pcm is not None or len(audios) > 1:
            raise MediaError("Only one recording can go with a question (a spoken question counts as one).")
        from ola_core.processing.audio import load_audio

        pcm = load_audio(audios[0])
    return Turn(
        text=text,
        speech=pcm,
        frames=tuple(frames),
        frames_kind=frames_kind,
        images=tuple(images),
        video=videos[0] if videos else None,
        voice=speech is not None,
    )


def check_attachment(path: Path) -> None:
    """Raise :class:`MediaError` now if ``path`` cannot go with a question (missing, unsupported,
    undecodable), so a bad drop is reported at once rather than when the question is asked."""
    if not path.is_file():
        raise MediaError(f"{path} is not a file that can be opened. Choose an image, video or audio file.")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        from ola_core.processing.image import load_image

        load_image(path)
    elif suffix in VIDEO_SUFFIXES:
        import av

        try:
            with av.open(str(path)) as container:
                if not container.streams.video or next(container.decode(video=0), None) is None:
                    raise MediaError(f"{path.name} has no video frames. Attach another video.")
        except av.FFmpegError as error:
            raise MediaError(
                f"{path.name} cannot be read as a video ({error}). Attach another file."
            ) from None
    elif suffix in AUDIO_SUFFIXES:
        from ola_core.processing.audio import read_audio_file

        read_audio_file(path)
    else:
        raise MediaError(
            f"{path.name}: unsupported file type {suffix!r}. Attach an image, a video or an audio file."
        )


def problem_area(error: BaseException) -> ProblemArea:
    """Where an error belongs, so the GUI can offer the right action."""
    if isinstance(error, SynthesisError):
        return "synthesis"
    if isinstance(error, MediaError):
        return "media"
    if isinstance(error, AudioDeviceError):
        return "speaker"
    if isinstance(error, CameraError):
        return "camera"
    if isinstance(error, ScreenCaptureError):
        return "screen"
    if isinstance(error, InsufficientMemoryError | GenerationError):
        return "generation"
    return "internal" if not isinstance(error, OlaError) else "generation"


class AnswerRun:
    """Generation + speech of one turn on its own thread; see the module docstring."""

    def __init__(
        self,
        *,
        trace: TraceRecorder,
        engine: Engine,
        speech: SpeechOutput | None,
        turn_args: dict[str, Any],
        options: GenerationSettings,
        emit: Callable[[AssistantEvent], None],
        on_first_sample: Callable[[AnswerRun], None],
        on_end: Callable[[AnswerRun, AnswerOutcome], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trace = trace
        self.turn_id = trace.turn_id
        self._engine = engine
        self._speech = speech
        self._turn_args = turn_args
        self._options = options
        self._emit = emit
        self._on_first_sample = on_first_sample
        self._on_end = on_end
        self._clock = clock
        self._text: list[str] = []
        self._text_lock = threading.Lock()
        self._spoken_upto = 0  # char offset after the last sentence located in the answer text
        self._cancel_outcome: Literal["barge_in", "stopped"] | None = None
        self._session: SpeechSession | None = None
        self._result: AnswerOutcome | None = None
        self._thread = threading.Thread(target=self._run, name=f"answer-{self.turn_id}", daemon=True)

    @property
    def text(self) -> str:
        with self._text_lock:
            return "".join(self._text)

    def start(self) -> None:
        self._thread.start()

    def cancel(self, outcome: Literal["barge_in", "stopped"], t: float) -> None:
        """Stop generation, synthesis and playback now (any thread); the run then ends quickly."""
        if self._cancel_outcome is not None:
            return
        self._cancel_outcome = outcome
        self.trace.mark("t_cancel_requested", t)
        session = self._session
        if session is not None:
            session.cancel()
        self._engine.cancel()

    def wait_outcome(self, timeout: float = CANCEL_WAIT_S) -> AnswerOutcome:
        """Wait for the run's thread (after ``cancel``) and return how it ended."""
        self._thread.join(timeout)
        if self._cancel_outcome is not None:
            self.trace.mark("t_cancel_done", self._clock())
        if self._thread.is_alive():
            log.warning("answer %d still running %.1f s after cancel; abandoned", self.turn_id, timeout)
        result = self._result
        if result is None or self._cancel_outcome is not None:
            outcome: TurnOutcome = self._cancel_outcome or "error"
            return AnswerOutcome(
                outcome, self.text, result.error if result else None, result.area if result else "generation"
            )
        return result

    # ------------------------------------------------------------------ the run
    def _run(self) -> None:
        try:
            result = self._generate_and_speak()
        except Exception as error:
            result = AnswerOutcome("error", self.text, error, problem_area(error))
        finally:
            self._finalise_stats()
        if self._cancel_outcome is not None:
            self._engine.mark_interrupted()  # also when only its playback was cut short
            result = AnswerOutcome(self._cancel_outcome, self.text, result.error, result.area)
        self.trace.set(outcome=result.outcome)
        self._result = result
        if self._cancel_outcome is None:  # a cancelled run is collected by the loop itself
            self._on_end(self, result)

    def _generate_and_speak(self) -> AnswerOutcome:
        turn = build_turn(**self._turn_args)
        if self._speech is not None:
            self._session = self._speech.begin(self)
            if self._cancel_outcome is not None:  # cancelled before the session existed
                self._session.cancel()
        speech_error: BaseException | None = None
        deltas = self._engine.stream(turn, self._options)
        try:
            for delta in deltas:
                if self._cancel_outcome is not None:
                    break
                self.trace.mark("t_first_token", delta.t)
                with self._text_lock:
                    self._text.append(delta.text)
                self._emit(AssistantTextDelta(self.turn_id, delta.text, self._clock()))
                if self._session is not None and speech_error is None:
                    try:
                        self._session.feed(delta.text)
                    except OlaError as error:  # the voice failed: keep the text coming, report at the end
                        speech_error = error
                        self._session.cancel()
        finally:
            deltas.close()  # leaving early cancels the engine's turn and waits for its worker
        if self._cancel_outcome is not None:
            return AnswerOutcome(self._cancel_outcome, self.text)
        if self._session is not None and speech_error is None:
            self._session.finish()
            speech_error = self._session.wait_done()
        # The answer itself is complete even when the voice failed: report the voice's error only.
        return AnswerOutcome(
            "completed", self.text, speech_error, problem_area(speech_error) if speech_error else "generation"
        )

    def _finalise_stats(self) -> None:
        stats = getattr(self._engine, "last_stats", None)
        if stats is None:
            return
        if stats.t_encoders_done is not None:
            self.trace.mark("t_encoders_done", stats.t_encoders_done)
        self.trace.set(
            prompt_tokens=stats.prompt_tokens,
            new_tokens=stats.new_tokens,
            tokens_per_s=stats.tokens_per_s,
            peak_memory_bytes=stats.peak_memory_bytes,
        )

    # ------------------------------------------------------------------ speech listener
    def sentence_ready(self, index: int, text: str, t: float) -> None:
        """The splitter released a sentence (synthesis starts)."""
        self.trace.mark("t_first_sentence", t)
        self.trace.add("sentences")

    def first_audio(self, t: float) -> None:
        """The synthesizer produced the answer's first audio chunk."""
        self.trace.mark("t_first_audio", t)

    def sentence_playing(self, index: int, text: str, t: float) -> None:
        """The first sample of sentence ``index`` reached the device: mark it in the transcript."""
        if index == 0:
            self.trace.mark("t_first_played", t)
            self._on_first_sample(self)
        start, end = self._locate(text)
        self._emit(SentenceSpoken(self.turn_id, index, text, start, end, t))

    def played(self, t: float) -> None:
        """Audio reached the device up to ``t`` (the last call gives the last sample played)."""
        self.trace.mark("t_last_played", t, overwrite=True)

    def _locate(self, sentence: str) -> tuple[int, int]:
        """[start, end) of ``sentence`` in the answer text; markdown was stripped, so search by words."""
        answer = self.text
        words = sentence.split()
        if not words:
            return -1, -1
        start = answer.find(words[0], self._spoken_upto)
        if start < 0:
            return -1, -1
        last = words[-1]
        end_at = answer.find(last, start + len(sentence) // 2 if len(words) > 1 else start)
        end = end_at + len(last) if end_at >= 0 else min(len(answer), start + len(sentence))
        self._spoken_upto = end
        return start, end
