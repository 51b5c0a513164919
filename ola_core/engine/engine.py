"""OlaEngine: load the model once, then answer turns of one conversation as a stream of text deltas.

A turn runs on its own worker thread: build the new turn's prompt and media, run the encoders,
prefill (only the new tokens when the earlier turns' KV cache is kept), then decode token by
token, handing :class:`TextDelta` objects to the caller through a queue. ``cancel()`` sets an
event the decode loop checks before every step. The conversation is changed only at the end of
a turn's prefill (the new exchange) and of its decoding (the answer so far); anything that fails
before restores the state it found, so an error never leaves the next turn a broken cache.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache

from ola_core.engine.conversation import Conversation, Exchange
from ola_core.engine.decoding import DecodeState, decode_tokens, prefill
from ola_core.engine.detokenizer import IncrementalDetokenizer
from ola_core.engine.memory import (
    PeakMemory,
    free_memory,
    is_out_of_memory,
    kv_bytes_per_token,
    truncate_cache,
)
from ola_core.engine.turn_inputs import MediaBudget, user_message
from ola_core.engine.types import (
    OFFICIAL_SYSTEM_PROMPT,
    GenerationSettings,
    TextDelta,
    Turn,
    TurnStats,
    system_prompt_for,
)
from ola_core.errors import GenerationError, InsufficientMemoryError, LoadCancelledError
from ola_core.media_types import TimedFrame
from ola_core.processing.prompt import AssistantMessage

if TYPE_CHECKING:
    from ola_core.model.loading import DeviceChoice, Quantization

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float, str], None]  # (fraction 0..1, stage text)

# The official prompt limit (config ``tokenizer_model_max_length``), used when a config has none.
DEFAULT_CONTEXT_TOKENS = 16384


class LoadedModel(Protocol):
    """A loaded model and its tokenizer (``ola_core.model.loading.LoadedOla`` is one)."""

    @property
    def model(self) -> Any: ...

    @property
    def tokenizer(self) -> Any: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def dtype(self) -> torch.dtype: ...


@dataclass(frozen=True)
class HistoryEntry:
    """One past exchange as the caller sees it."""

    answer: str
    interrupted: bool
    media_dropped: bool


@dataclass
class _Snapshot:
    """The conversation as a turn found it, to put back when the turn fails before it counts."""

    system_prompt: str | None
    voice: bool
    exchanges: list[Exchange]
    cache: Cache | None
    cache_len: int
    fed: int


_DONE = object()


class OlaEngine:
    """One loaded model and one conversation; one turn at a time.

    Build it with the model files and :meth:`load` (or :meth:`load_in_background`), or around an
    already loaded model with :meth:`from_loaded`. ``reuse_cache=False`` re-encodes the whole
    conversation every turn (the official behaviour, kept for comparison in benchmarks).
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        speech_encoder: Path | None = None,
        music_encoder: Path | None = None,
        quantization: Quantization = "none",
        device: DeviceChoice = "auto",
        dtype: torch.dtype | None = None,
        settings: GenerationSettings | None = None,
        media_budget: MediaBudget | None = None,
        memory_budget_bytes: int | None = None,
        reuse_cache: bool = True,
        prefill_chunk: int = 2048,
    ) -> None:
        self.model_dir = model_dir
        self.speech_encoder = speech_encoder
        self.music_encoder = music_encoder
        self.quantization = quantization
        self.device_request = device
        self.dtype = dtype
        self.settings = settings or GenerationSettings()
        self.media_budget = media_budget or MediaBudget()
        self.memory_budget_bytes = memory_budget_bytes
        self.reuse_cache = reuse_cache
        self.prefill_chunk = prefill_chunk  # positions per prefill forward: bounds memory, lets cancel in
        self.last_stats: TurnStats | None = None
        self._loaded: LoadedModel | None = None
        self._conversation = Conversation()
        self._turn_lock = threading.Lock()  # held from stream() until the worker has finished
        self._load_lock = threading.Lock()
        self._turn_cancel: threading.Event | None = None

    # --- loading -------------------------------------------------------------------------------
    @classmethod
    def from_loaded(cls, loaded: LoadedModel, **options: Any) -> OlaEngine:
        """An engine around a model loaded elsewhere (tests, benchmarks, a second conversation)."""
        engine = cls(**options)
        engine._attach(loaded)
        return engine

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    @property
    def description(self) -> str:
        """What runs, in words: "Ola-7b, nf4 on cuda" (for the status bar and logs)."""
        name = self.model_dir.name if self.model_dir is not None else "model"
        if self._loaded is None:
            return f"{name}, {self.quantization} on {self.device_request} (not loaded)"
        quantization = getattr(self._loaded, "quantization", self.quantization)
        return f"{name}, {quantization} on {self._loaded.device.type}"

    def load(self, progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> None:
        """Load the model files (blocking; idempotent). ``progress(fraction, stage)`` is called as it goes.

        Setting ``cancel`` stops the load at its next progress report with
        :class:`LoadCancelledError`, and whatever was loaded is freed.
        """
        from ola_core.model.loading import load_ola

        if self.model_dir is None:
            raise GenerationError("No model folder was given: choose the Ola-7b folder in the settings.")

        def report(fraction: float, stage: str) -> None:
            if cancel is not None and cancel.is_set():
                raise LoadCancelledError(_LOAD_CANCELLED)
            if progress is not None:
                progress(fraction, stage)

        with self._load_lock:
            if self._loaded is not None:
                return
            try:
                report(0.0, "Reading the model files")
                loaded = load_ola(
                    self.model_dir,
                    speech_encoder=self.speech_encoder,
                    music_encoder=self.music_encoder,
                    quantization=self.quantization,
                    device=self.device_request,
                    dtype=self.dtype,
                    progress=report,
                )
            except LoadCancelledError as error:
                error.with_traceback(None)  # its frames hold the half-loaded weights
                free_memory(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
                raise
            if cancel is not None and cancel.is_set():  # cancelled after the loader's last report
                device = loaded.device
                del loaded
                free_memory(device)
                raise LoadCancelledError(_LOAD_CANCELLED)
            self._attach(loaded)

    def load_in_background(
        self,
        progress: ProgressCallback | None = None,
        on_done: Callable[[BaseException | None], None] | None = None,
    ) -> LoadJob:
        """Start :meth:`load` on its own thread; ``on_done(error or None)`` is called from that thread."""
        job = LoadJob()

        def run() -> None:
            try:
                self.load(progress, job.cancel_event)
            except BaseException as error:  # handed to the caller, who decides what to show
                job.error = error
            finally:
                job.done.set()
                if on_done is not None:
                    on_done(job.error)

        job.thread = threading.Thread(target=run, name="ola-load", daemon=True)
        job.thread.start()
        return job

    def _attach(self, loaded: LoadedModel) -> None:
        self._loaded = loaded
        self._conversation = Conversation()

    # --- limits ----------------------------------------------------------------------------------
    @property
    def max_context_tokens(self) -> int:
        """Positions a conversation may take: the model's prompt limit, or less under a memory budget."""
        loaded = self._require_loaded()
        config = loaded.model.config
        limit = getattr(config, "tokenizer_model_max_length", None) or DEFAULT_CONTEXT_TOKENS
        limit = min(limit, getattr(config.get_text_config(), "max_position_embeddings", limit))
        if self.memory_budget_bytes is not None:
            limit = min(limit, self.memory_budget_bytes // kv_bytes_per_token(config, loaded.dtype))
        return int(limit)

    # --- the conversation --------------------------------------------------------------------------
    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        return tuple(
            HistoryEntry(e.answer.text, e.answer.interrupted, e.media_dropped)
            for e in self._conversation.exchanges
        )

    @property
    def context_tokens(self) -> int:
        """Positions in the KV cache now."""
        return self._conversation.cache_len

    def reset(self) -> None:
        """Start a new conversation and free the old one's cache (cancels a running turn first)."""
        self.cancel()
        with self._turn_lock:
            self._conversation = Conversation()
        if self._loaded is not None:
            free_memory(self._loaded.device)

    def mark_interrupted(self) -> None:
        """The user cut the last answer short after it was generated (e.g. by talking over its
        playback): the next turn tells the model so, as for an answer whose generation was cancelled.
        No-op while a turn runs (a cancelled turn marks its own answer) or before any answer."""
        if not self._turn_lock.acquire(blocking=False):
            return
        try:
            exchanges = self._conversation.exchanges
            if exchanges:
                exchanges[-1].answer = replace(exchanges[-1].answer, interrupted=True)
        finally:
            self._turn_lock.release()

    def cancel(self) -> None:
        """Stop the running turn before its next decode step or prefill chunk (from any thread); no-op when idle."""
        event = self._turn_cancel
        if event is not None:
            event.set()

    def stream(self, turn: Turn, settings: GenerationSettings | None = None) -> Iterator[TextDelta]:
        """Answer ``turn`` as a stream of deltas; ``last_stats`` describes the turn once the stream ends.

        A cancelled turn ends the stream normally (``last_stats.stop_reason == "cancelled"``); the
        partial answer stays in the conversation, marked interrupted. Errors (:class:`MediaError`,
        :class:`InsufficientMemoryError`, :class:`GenerationError`) are raised from the iterator.
        Raises :class:`GenerationError` at once when another turn is running.
        """
        self._require_loaded()
        if turn.is_empty():
            raise GenerationError("Nothing to answer: the turn has no text, speech, pictures or files.")
        if not self._turn_lock.acquire(blocking=False):
            raise GenerationError(
                "A turn is already running: stop it or wait for its answer before asking again."
            )
        cancel = threading.Event()
        self._turn_cancel = cancel
        deltas: queue.Queue[object] = queue.Queue()
        worker = threading.Thread(
            target=self._run_turn,
            args=(turn, settings or self.settings, cancel, deltas),
            name="ola-turn",
            daemon=True,
        )
        worker.start()
        return _relay(deltas, cancel, worker)

    def warm_up(self) -> float:
        """Run a throw-away turn with a frame and a second of silence; returns the seconds it took.

        The first pass through each encoder and the language model pays one-time costs (kernel
        selection, allocator growth, lazy initialisation); paying them right after loading keeps
        them out of the user's first answer. The conversation is not touched.
        """
        loaded = self._require_loaded()
        if not self._turn_lock.acquire(blocking=False):
            raise GenerationError("A turn is running; warm-up is only useful before the first one.")
        try:
            t0 = time.monotonic()
            frame = TimedFrame(np.zeros((64, 64, 3), dtype=np.uint8), t0)
            turn = Turn(speech=np.zeros(16000, dtype=np.float32), frames=(frame,))
            scratch = Conversation()
            scratch.system_prompt = OFFICIAL_SYSTEM_PROMPT
            inputs = scratch.full_prompt(loaded.tokenizer, user_message(turn, self.media_budget))
            with torch.inference_mode():
                cache = DynamicCache(config=loaded.model.config)
                logits = prefill(
                    loaded.model,
                    cache,
                    loaded.model.embed_prompt(inputs),
                    self.prefill_chunk,
                    threading.Event(),
                )
                assert logits is not None
                settings = GenerationSettings(greedy=True, max_new_tokens=2)
                state = DecodeState(generated=[])
                for _ in decode_tokens(
                    loaded.model, cache, logits, settings, frozenset(), threading.Event(), state
                ):
                    pass
            return time.monotonic() - t0
        finally:
            self._turn_lock.release()

    def generate(self, turn: Turn, settings: GenerationSettings | None = None) -> TurnStats:
        """Answer ``turn`` without streaming; the statistics carry the text and ids."""
        for _ in self.stream(turn, settings):
            pass
        assert self.last_stats is not None
        return self.last_stats

    # --- one turn, on the worker thread --------------------------------------------------------------
    def _run_turn(
        self, turn: Turn, settings: GenerationSettings, cancel: threading.Event, deltas: queue.Queue[object]
    ) -> None:
        stats = TurnStats(t_start=time.monotonic())
        outcome: object = _DONE
        try:
            with torch.inference_mode():
                self._answer(turn, settings, cancel, deltas, stats)
        except BaseException as error:  # handed to the consumer of the stream
            outcome = error
            if stats.stop_reason is None:
                stats.stop_reason = "error"
        finally:
            stats.t_end = time.monotonic()
            self.last_stats = stats
            self._turn_cancel = None
            self._turn_lock.release()  # before the end is announced: the caller may start the next turn at once
            deltas.put(outcome)

    def _answer(
        self,
        turn: Turn,
        settings: GenerationSettings,
        cancel: threading.Event,
        deltas: queue.Queue[object],
        stats: TurnStats,
    ) -> None:
        loaded = self._require_loaded()
        peak = PeakMemory(loaded.device)
        try:
            self._answer_with_retry(turn, settings, cancel, deltas, stats, peak)
        finally:
            stats.peak_memory_bytes = peak.peak_bytes
            stats.memory_kind = peak.kind

    def _answer_with_retry(
        self,
        turn: Turn,
        settings: GenerationSettings,
        cancel: threading.Event,
        deltas: queue.Queue[object],
        stats: TurnStats,
        peak: PeakMemory,
    ) -> None:
        """Prefill and decode; an out-of-memory before any text was shown retries once with less media."""
        loaded = self._require_loaded()
        budget = self.media_budget
        for attempt in range(2):
            snapshot = self._snapshot()
            shown: list[TextDelta] = []
            try:
                prefilled = self._prefill(turn, settings, budget, cancel, stats, peak, snapshot)
                if prefilled is None:  # cancelled before the model saw the turn: it never happened
                    self._restore(snapshot)
                    stats.stop_reason = "cancelled"
                    return
                self._decode(prefilled, settings, cancel, stats, peak, shown.append, deltas)
                return
            except BaseException as error:
                out_of_memory = is_out_of_memory(error)
                # A partial answer the user saw stays in the conversation (marked interrupted);
                # anything earlier is undone, as if the turn had not started.
                if not (shown or (not out_of_memory and stats.t_first_token is not None)):
                    self._restore(snapshot)
                if not out_of_memory:
                    raise
                # Drop the failed attempt's frames (and the tensors they hold) before freeing memory.
                error.with_traceback(None)
                if shown or attempt == 1:
                    free_memory(loaded.device)
                    raise InsufficientMemoryError(_OOM_MESSAGE) from error
            free_memory(loaded.device)
            stats.t_first_token = stats.t_encoders_done = stats.t_prefill_done = None
            stats.oom_retries += 1
            budget = budget.reduced()
            log.warning("out of memory during a turn; retrying with %s", budget)

    def _decode(
        self,
        prefilled: tuple[torch.Tensor, Exchange],
        settings: GenerationSettings,
        cancel: threading.Event,
        stats: TurnStats,
        peak: PeakMemory,
        on_emit: Callable[[TextDelta], None],
        deltas: queue.Queue[object],
    ) -> None:
        """Decode the answer into ``deltas``; whatever ends it, the answer so far is kept in step with the cache."""
        loaded = self._require_loaded()
        conversation = self._conversation
        assert conversation.cache is not None
        first_logits, exchange = prefilled
        prefix = conversation.cache_len
        state = DecodeState(generated=[])
        detokenizer = IncrementalDetokenizer(loaded.tokenizer)
        generator = None
        if not settings.greedy and settings.seed is not None:
            generator = torch.Generator(device=first_logits.device).manual_seed(settings.seed)
        stop_ids = (
            frozenset(settings.eos_token_ids) | end_of_turn_ids(loaded.tokenizer) | config_eos_ids(loaded)
        )
        text = ""

        def emit(piece: str, ids: tuple[int, ...], now: float) -> None:
            delta = TextDelta(piece, ids, now)
            stats.delta_times.append(now)
            deltas.put(delta)
            on_emit(delta)

        try:
            tokens = decode_tokens(
                loaded.model, conversation.cache, first_logits, settings, stop_ids, cancel, state, generator
            )
            for token in tokens:
                now = time.monotonic()
                if stats.t_first_token is None:
                    stats.t_first_token = now
                peak.sample()
                piece, ids = detokenizer.push(token)
                if piece:
                    text += piece
                    emit(piece, ids, now)
            stats.stop_reason = state.stop_reason
            piece, ids = detokenizer.flush()
            if piece:
                text += piece
                emit(piece, ids, time.monotonic())
        finally:
            text += detokenizer.flush()[0]  # after an error: the held text, not shown but kept
            interrupted = stats.stop_reason in (None, "cancelled")
            exchange.answer = AssistantMessage(
                text=text, token_ids=tuple(state.generated), interrupted=interrupted
            )
            conversation.fed = state.fed
            truncate_cache(conversation.cache, prefix + state.fed)
            stats.token_ids = list(state.generated)
            stats.text = text
            stats.context_tokens = conversation.cache_len

    def _prefill(
        self,
        turn: Turn,
        settings: GenerationSettings,
        budget: MediaBudget,
        cancel: threading.Event,
        stats: TurnStats,
        peak: PeakMemory,
        snapshot: _Snapshot,
    ) -> tuple[torch.Tensor, Exchange] | None:
        """Encode the turn and run it through the model; None when cancelled before that finished."""
        loaded = self._require_loaded()
        model, tokenizer, conversation = loaded.model, loaded.tokenizer, self._conversation
        if cancel.is_set():
            return None
        message = user_message(turn, budget)  # pixels and mels (MediaError for bad media)

        voice = conversation.voice if conversation.exchanges else turn.voice
        system_prompt = system_prompt_for(settings, voice)
        reuse = self.reuse_cache
        if system_prompt != conversation.system_prompt:  # first turn, or the settings changed it
            conversation.system_prompt, conversation.voice = system_prompt, voice
            reuse = False
        plan = conversation.plan(tokenizer, message, settings.max_new_tokens, self.max_context_tokens, reuse)
        if plan.rebuild:
            # Free the old cache before building the new one; failing now means "rebuild next time".
            conversation.cache = snapshot.cache = None
            free_memory(loaded.device)
        embeds = model.embed_prompt(plan.inputs)  # (1, L, hidden): the encoders run here
        stats.t_encoders_done = time.monotonic()
        peak.sample()
        if cancel.is_set():
            return None

        cache = DynamicCache(config=model.config) if plan.rebuild else conversation.cache
        assert cache is not None
        first_logits = prefill(model, cache, embeds, self.prefill_chunk, cancel)
        if first_logits is None:
            return None
        stats.t_prefill_done = time.monotonic()
        peak.sample()

        # The turn now counts: record it.
        exchange = Exchange(user=message)
        conversation.exchanges = [*plan.exchanges, exchange]
        conversation.cache = cache
        conversation.fed = 0
        stats.dropped_media, stats.dropped_turns = plan.dropped_media, plan.dropped_turns
        stats.reused_cache = not plan.rebuild
        stats.prompt_tokens = int(embeds.shape[1])
        return first_logits, exchange

    def _snapshot(self) -> _Snapshot:
        c = self._conversation
        return _Snapshot(c.system_prompt, c.voice, list(c.exchanges), c.cache, c.cache_len, c.fed)

    def _restore(self, snapshot: _Snapshot) -> None:
        c = self._conversation
        c.system_prompt, c.voice = snapshot.system_prompt, snapshot.voice
        c.exchanges, c.cache, c.fed = snapshot.exchanges, snapshot.cache, snapshot.fed
        if c.cache is not None:
            truncate_cache(c.cache, snapshot.cache_len)

    def _require_loaded(self) -> LoadedModel:
        if self._loaded is None:
            raise GenerationError("The model is not loaded yet: wait until loading has finished.")
        return self._loaded


_LOAD_CANCELLED = "Loading the model was cancelled."
_OOM_MESSAGE = (
    "Not enough memory for this turn, even with fewer frames and a lower resolution. "
    "Try a shorter clip or fewer images, start a new conversation, or use a smaller quantization (nf4)."
)


def _relay(
    deltas: queue.Queue[object], cancel: threading.Event, worker: threading.Thread
) -> Iterator[TextDelta]:
    """The caller's side of a turn; leaving the loop early (break, close) cancels the turn."""
    finished = False
    try:
        while True:
            item = deltas.get()
            if item is _DONE:
                finished = True
                return
            if isinstance(item, BaseException):
                finished = True
                raise item
            assert isinstance(item, TextDelta)
            yield item
    finally:
        if not finished:
            cancel.set()
            worker.join()


def end_of_turn_ids(tokenizer: Any) -> frozenset[int]:
    """``<|im_end|>`` and ``<|endoftext|>`` as the tokenizer numbers them (tiny checkpoints differ from Ola's)."""
    ids = (tokenizer.convert_tokens_to_ids(token) for token in ("<|im_end|>", "<|endoftext|>"))
    return frozenset(i for i in ids if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id)


def config_eos_ids(loaded: LoadedModel) -> frozenset[int]:
    """The checkpoint's own eos ids (generation_config.json), when the loaded model has one."""
    eos = getattr(getattr(loaded, "generation_config", None), "eos_token_id", None)
    if eos is None:
        return frozenset()
    return frozenset([eos] if isinstance(eos, int) else eos)


class LoadJob:
    """A load running on its own thread: ``cancel()``, ``wait()``, then ``error`` (None on success)."""

    def __init__(self) -> None:
        self.cancel_event = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True when the load has ended (successfully or not) within ``timeout``."""
        return self.done.wait(timeout)
