"""One answer: engine deltas → transcript events and the speech pipeline, cancellable at any point.

An :class:`AnswerRun` owns the one thread of a turn (``answer-N``): the engine generates on it
(:meth:`~ola_core.engine.engine.OlaEngine.answer`), and each delta becomes an
``AssistantTextDelta`` event and text for the speech pipeline (sentence splitting, synthesis and
playback run on the pipeline's threads). The turn's :class:`~ola_core.cancel.CancelToken` is
created here and handed to the engine and the pipeline: :meth:`AnswerRun.cancel` (barge-in,
Stop; from the loop) sets it and returns at once. The run's end comes to the loop as a
message (``post``); the speech pipeline's events for the turn come to the loop directly and the
loop hands them to :meth:`AnswerRun.on_speech`. The turn is over when generation has ended and,
unless cancelled, the voice has finished.
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

from ola_core.assistant.previews import attachment_previews
from ola_core.cancel import CancelToken
from ola_core.engine.types import GenerationSettings, TextDelta, Turn
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
from ola_core.speech.pipeline import (
    SentenceQueued,
    SentenceStarted,
    SentenceSynthesized,
    SpeechError,
    SpeechEvent,
    SpeechFinished,
    SpeechPipeline,
)
from ola_core.trace import TraceRecorder, TurnOutcome

if TYPE_CHECKING:
    from ola_core.assistant.captions import Captions
    from ola_core.assistant.speech_out import SpeechOutput

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
CANCEL_WAIT_S = 5.0  # longest a turn waits for the cancelled one before it (a prefill chunk cannot stop)


class Engine(Protocol):
    """What the assistant uses of :class:`ola_core.engine.OlaEngine`."""

    @property
    def loaded(self) -> bool: ...
    @property
    def description(self) -> str: ...
    def warm_up(self) -> float: ...
    def load(self, progress: Callable[[float, str], None], cancel: threading.Event) -> None: ...
    def answer(
        self,
        turn: Turn,
        on_delta: Callable[[TextDelta], None],
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> Any: ...
    def mark_interrupted(self) -> None: ...
    def reset(self, past: tuple[tuple[str, str], ...] = ()) -> None: ...
    @property
    def last_stats(self) -> Any: ...


class AnswerFilter(Protocol):
    """One answer's text filter (booth mode's word filter): what it returns is shown and spoken."""

    def feed(self, text: str) -> str: ...
    def finish(self) -> str: ...


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


def check_attachment(path: Path) -> tuple[TimedFrame, ...]:
    """Raise :class:`MediaError` now if ``path`` cannot go with a question (missing, unsupported,
    undecodable), so a bad drop is reported at once rather than when the question is asked.
    Returns the attachment's previews (:mod:`ola_core.assistant.previews`)."""
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
    return attachment_previews(path)


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


@dataclass(frozen=True)
class GenerationEnded:
    """Message to the loop: the run's thread is done (generation over, the voice may still play)."""

    run: AnswerRun
    outcome: AnswerOutcome


class AnswerRun:
    """Generation of one turn on its own thread, and the turn's bookkeeping; see the module docstring."""

    def __init__(
        self,
        *,
        trace: TraceRecorder,
        engine: Engine,
        speech: SpeechOutput | None,
        turn: Turn,
        options: GenerationSettings,
        emit: Callable[[AssistantEvent], None],
        post: Callable[[GenerationEnded], None],
        after: AnswerRun | None = None,
        clock: Callable[[], float] = time.monotonic,
        captions: Captions | None = None,
        text_filter: AnswerFilter | None = None,
        speculative: bool = False,
    ) -> None:
        self.trace = trace
        self.turn_id = trace.turn_id
        self.token = CancelToken()
        self._engine = engine
        self._speech = speech
        self._turn = turn
        self._options = options
        self._emit = emit
        self._post = post
        self._after = after
        self._clock = clock
        self._filter = text_filter
        self._captions = captions if turn.voice else None  # only a spoken question has words to caption
        self._text: list[str] = []
        self._text_lock = threading.Lock()
        self._spoken_upto = 0  # char offset after the last sentence located in the answer text
        self.generation: AnswerOutcome | None = None  # set by the loop when GenerationEnded arrives
        self.voice_done = speech is None  # SpeechFinished or SpeechError arrived (or nothing to speak)
        self.voice_error: OlaError | None = None
        self._end_lock = threading.Lock()  # orders a cancel with the end of generation
        self._generation_over = False
        # A speculative run (started at a pause) prefills, then waits for confirm() or drop().
        self.speculative = speculative
        self.dropped = False
        self._confirmed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"answer-{self.turn_id}", daemon=True)

    @property
    def text(self) -> str:
        with self._text_lock:
            return "".join(self._text)

    @property
    def cancelled(self) -> bool:
        return self.token.is_set()

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait for the run's thread (shutdown only); True when it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel(self, outcome: Literal["barge_in", "stopped"], t: float) -> None:
        """Set the turn's token: generation, synthesis and playback stop; returns at once (any thread)."""
        if self.token.is_set():
            return
        self.trace.mark("t_cancel_requested", t)
        self.token.cancel(outcome)
        with self._end_lock:
            if self._generation_over:  # only the voice was running: it stopped with the token
                self._interrupted()

    def confirm(self) -> None:
        """The speculated turn is real (its endpoint came with no more speech): decode and speak it."""
        self._confirmed.set()

    def drop(self) -> None:
        """The speculation was wrong (the user spoke again): the run ends without a trace in the
        conversation, and without any event; returns at once."""
        if not self._confirmed.is_set():
            self.dropped = True
            self.token.cancel("dropped")

    def finished(self) -> bool:
        """Generation has ended and, unless cancelled, the voice has finished."""
        generation = self.generation
        return generation is not None and (self.voice_done or self.cancelled or generation.error is not None)

    def outcome(self) -> AnswerOutcome:
        """How the turn ended (once :meth:`finished`): cancelled, failed, or completed (perhaps with a
        voice error: the answer itself is complete, the error says why it was not all spoken)."""
        generation = self.generation
        assert generation is not None
        if self.cancelled:
            reason: TurnOutcome = "stopped" if self.token.reason == "stopped" else "barge_in"
            return AnswerOutcome(reason, self.text, generation.error, generation.area)
        if generation.error is None and self.voice_error is not None:
            return AnswerOutcome("completed", self.text, self.voice_error, problem_area(self.voice_error))
        return generation

    # ------------------------------------------------------------------ the run's thread
    def _run(self) -> None:
        try:
            result = self._generate()
        except Exception as error:
            result = AnswerOutcome("error", self.text, error, problem_area(error))
        finally:
            self._finalise_stats()
        with self._end_lock:
            self._generation_over = True
            if self.cancelled and not self.dropped:
                self._interrupted()
        self._post(GenerationEnded(self, result))

    def _interrupted(self) -> None:
        """The cancel has taken effect: the answer counts as interrupted for the model's next turn."""
        self._engine.mark_interrupted()  # also when only its playback was cut short
        self.trace.mark("t_cancel_done", self._clock())

    def _generate(self) -> AnswerOutcome:
        before = self._after
        if before is not None and not before.join(CANCEL_WAIT_S):  # the engine runs one turn at a time
            log.warning("answer %d still running %.1f s after cancel", before.turn_id, CANCEL_WAIT_S)
        if self.cancelled:
            return AnswerOutcome("error", "")  # replaced by the cancel reason
        voice: list[SpeechPipeline] = []  # the turn's pipeline, begun once the turn is real

        def begin_voice() -> None:
            if self._speech is not None:
                voice.append(self._speech.begin(self.turn_id, self.token))

        if not self.speculative:
            begin_voice()
        captions = self._captions
        watch = captions.watch(self.turn_id, self.trace) if captions is not None else None

        def on_delta(delta: TextDelta) -> None:
            if captions is not None and watch is not None:
                captions.answer_started(watch)  # the caption runs beside the answer, never before it
            if self.cancelled:
                return
            self.trace.mark("t_first_token", delta.t)
            deliver(delta.text if self._filter is None else self._filter.feed(delta.text))

        def deliver(text: str) -> None:
            if not text:
                return
            with self._text_lock:
                self._text.append(text)
            self._emit(AssistantTextDelta(self.turn_id, text, self._clock()))
            for pipeline in voice:
                pipeline.feed(text, self.token)  # dropped once cancelled, even mid-call

        def ready() -> bool:  # on this thread, between the prefill and the first decoding step
            unlink = self.token.on_cancel(lambda _reason: self._confirmed.set())
            self._confirmed.wait()
            unlink()
            if self.cancelled:
                return False
            begin_voice()
            return True

        try:
            self._engine.answer(
                self._turn, on_delta, self._options, self.token, ready=ready if self.speculative else None
            )
        finally:
            if self._filter is not None and not self.cancelled:
                deliver(self._filter.finish())  # the held-back tail, before the voice is told to end
            if captions is not None and watch is not None:
                captions.done(watch)
            for pipeline in voice:  # nothing once cancelled (the token is checked under the pipeline's lock)
                pipeline.finish(self.token)  # after an error too: what was said so far plays out
        return AnswerOutcome("completed", self.text)

    def _finalise_stats(self) -> None:
        stats = getattr(self._engine, "last_stats", None)
        if stats is None:
            return
        if stats.t_encoders_done is not None:
            self.trace.mark("t_encoders_done", stats.t_encoders_done)
        if stats.t_prefill_done is not None:
            self.trace.mark("t_prefill_done", stats.t_prefill_done)
        self.trace.set(
            prompt_tokens=stats.prompt_tokens,
            new_tokens=stats.new_tokens,
            tokens_per_s=stats.tokens_per_s,
            peak_memory_bytes=stats.peak_memory_bytes,
        )

    # ------------------------------------------------------------------ speech events (loop thread)
    def on_speech(self, event: SpeechEvent) -> None:
        """A speech event of this turn: trace marks, ``SentenceSpoken``, the end of the voice."""
        if isinstance(event, SentenceQueued):
            self.trace.mark("t_first_sentence", event.t)
            self.trace.add("sentences")
        elif isinstance(event, SentenceSynthesized):
            self.trace.mark("t_first_audio", event.t_first_chunk)
        elif isinstance(event, SentenceStarted):
            if event.index == 0:
                self.trace.mark("t_first_played", event.t)
            start, end = self._locate(event.text)
            self._emit(SentenceSpoken(self.turn_id, event.index, event.text, start, end, event.t))
        elif isinstance(event, SpeechFinished):
            self.trace.mark("t_last_played", event.t, overwrite=True)
            self.voice_done = True
        elif isinstance(event, SpeechError):
            self.voice_error = event.error
            self.voice_done = True

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
