"""OlaEngine: load the model once, then answer turns of one conversation as a stream of text deltas.

A turn builds the new turn's prompt and media, runs the encoders, prefills (only the new tokens
when the earlier turns' KV cache is kept), then decodes token by token. :meth:`OlaEngine.answer`
does that on the calling thread and hands each :class:`TextDelta` to a callback (the assistant's
answer thread: one thread per turn); :meth:`OlaEngine.stream` runs it on an ``ola-turn`` worker
and yields the deltas (the CLI, tests, benchmarks). Every turn has a
:class:`~ola_core.cancel.CancelToken` (the caller's, or a new one), checked before every prefill
chunk and decode step; :meth:`OlaEngine.cancel` sets the running turn's. The conversation is changed only at the end of
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
from typing import TYPE_CHECKING, Any

import torch
from transformers import DynamicCache

from ola_core.cancel import CancelToken
from ola_core.engine.answering import (
    LoadedModel,
    Snapshot,
    decode_answer,
    restore,
    snapshot,
    warm_up_model,
)
from ola_core.engine.conversation import Conversation, Exchange
from ola_core.engine.decoding import prefill
from ola_core.engine.deltas import DONE, relay
from ola_core.engine.load_job import LoadJob, ProgressCallback
from ola_core.engine.memory import PeakMemory, free_memory, is_out_of_memory
from ola_core.engine.turn_inputs import MediaBudget, user_message
from ola_core.engine.types import GenerationSettings, TextDelta, Turn, TurnStats, system_prompt_for
from ola_core.errors import GenerationError, InsufficientMemoryError, LoadCancelledError
from ola_core.model.profiles import kv_bytes_per_token

if TYPE_CHECKING:
    from ola_core.model.loading import DeviceChoice, Quantization

log = logging.getLogger(__name__)

# The official prompt limit (config ``tokenizer_model_max_length``), used when a config has none.
DEFAULT_CONTEXT_TOKENS = 16384


@dataclass(frozen=True)
class HistoryEntry:
    """One past exchange as the caller sees it."""

    answer: str
    interrupted: bool
    media_dropped: bool


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
        profile: str = "custom",
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
        self.profile = profile  # a MemoryProfile setting, resolved at load (model/profiles.py)
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
        self._turn_cancel: CancelToken | None = None
        self._reset_lock = threading.Lock()  # orders a reset asked for mid-turn with the turn's end
        self._reset_pending = False
        self._seed: tuple[tuple[str, str], ...] = ()  # the turns the next reset starts from

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
    def loaded_model(self) -> LoadedModel | None:
        """The loaded model (None before loading), for work beside the answers such as captions."""
        return self._loaded

    @property
    def description(self) -> str:
        """What runs, in words: "Ola-7b, nf4 on cuda", "Ola-7b, 8 GB profile (nf4) on cuda" (for the
        status bar and logs)."""
        name = self.model_dir.name if self.model_dir is not None else "model"
        if self._loaded is None:
            return f"{name}, {self.quantization} on {self.device_request} (not loaded)"
        quantization = getattr(self._loaded, "quantization", self.quantization)
        profile = getattr(self._loaded, "profile", None)
        if profile is not None and profile.name != "custom":
            quantization = f"{profile.name.upper().replace('GB', ' GB')} profile ({quantization})"
        return f"{name}, {quantization} on {self._loaded.device.type}"

    def load(self, progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> None:
        """Load the model files (blocking; idempotent). ``progress(fraction, stage)`` is called as it goes.

        Setting ``cancel`` stops the load at its next progress report with
        :class:`LoadCancelledError`, and whatever was loaded is freed.
        """
        from ola_core.model.loading import load_ola
        from ola_core.model.profiles import resolve_profile

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
                    profile=resolve_profile(self.profile, self.quantization, self.device_request),
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
        """Start :meth:`load` on its own ``ola-load`` thread; ``on_done(error or None)`` is called from it."""
        return LoadJob.start(self.load, progress, on_done)

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

    def reset(self, past: tuple[tuple[str, str], ...] = ()) -> None:
        """Start a new conversation (continuing the text turns ``past``: (question, answer) pairs
        of a conversation reopened from the history) and free the old one's cache; never waits.

        A running turn is cancelled and the reset happens as it ends (before its lock is free for
        the next turn), so the caller (the assistant's loop) never blocks on a prefill chunk.
        """
        self.cancel()
        with self._reset_lock:
            self._seed = tuple(past)
            if not self._turn_lock.acquire(blocking=False):
                self._reset_pending = True
                return
            try:
                self._forget_conversation()
            finally:
                self._turn_lock.release()

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
        """Cancel the running turn's token (from any thread); no-op when idle."""
        token = self._turn_cancel
        if token is not None:
            token.cancel("stopped")

    def answer(
        self,
        turn: Turn,
        on_delta: Callable[[TextDelta], None],
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> TurnStats:
        """Answer ``turn`` on the calling thread, handing each delta to ``on_delta``; the turn's stats.

        ``cancel`` (a new token if None) stops the turn before its next prefill chunk or decode
        step; a cancelled turn returns normally (``stop_reason == "cancelled"``) and its partial
        answer stays in the conversation, marked interrupted. ``ready`` makes the turn
        speculative: it is called between the prefill and the first decoding step and may block
        until the caller knows whether the turn is real; when it returns False the turn is dropped
        as if it never ran (conversation and cache as they were, ``stop_reason == "dropped"``).
        Errors (:class:`MediaError`,
        :class:`InsufficientMemoryError`, :class:`GenerationError`) are raised; the conversation
        is then as the turn found it, unless text was already shown. Raises
        :class:`GenerationError` at once when another turn is running.
        """
        token = self._begin_turn(turn, cancel)
        return self._run_turn(turn, settings or self.settings, token, on_delta, ready)

    def stream(
        self, turn: Turn, settings: GenerationSettings | None = None, cancel: CancelToken | None = None
    ) -> Iterator[TextDelta]:
        """:meth:`answer` on an ``ola-turn`` worker thread, as an iterator of deltas; ``last_stats``
        describes the turn once the stream ends. Errors are raised from the iterator; leaving it
        early (break, close) cancels the turn and waits for the worker."""
        token = self._begin_turn(turn, cancel)
        deltas: queue.Queue[object] = queue.Queue()

        def work() -> None:
            outcome: object = DONE
            try:
                self._run_turn(turn, settings or self.settings, token, deltas.put)
            except BaseException as error:  # handed to the consumer of the stream
                outcome = error
            deltas.put(outcome)

        worker = threading.Thread(target=work, name="ola-turn", daemon=True)
        worker.start()
        return relay(deltas, token, worker)

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
            warm_up_model(loaded, self.media_budget, self.prefill_chunk)
            return time.monotonic() - t0
        finally:
            self._turn_lock.release()

    def generate(self, turn: Turn, settings: GenerationSettings | None = None) -> TurnStats:
        """Answer ``turn`` without streaming; the statistics carry the text and ids."""
        return self.answer(turn, lambda _: None, settings)

    # --- one turn ------------------------------------------------------------------------------------
    def _begin_turn(self, turn: Turn, cancel: CancelToken | None) -> CancelToken:
        """Check the turn and take the turn lock (released by :meth:`_run_turn`)."""
        self._require_loaded()
        if turn.is_empty():
            raise GenerationError("Nothing to answer: the turn has no text, speech, pictures or files.")
        if not self._turn_lock.acquire(blocking=False):
            raise GenerationError(
                "A turn is already running: stop it or wait for its answer before asking again."
            )
        token = cancel if cancel is not None else CancelToken()
        self._turn_cancel = token
        return token

    def _run_turn(
        self,
        turn: Turn,
        settings: GenerationSettings,
        cancel: CancelToken,
        on_delta: Callable[[TextDelta], None],
        ready: Callable[[], bool] | None = None,
    ) -> TurnStats:
        stats = TurnStats(t_start=time.monotonic())
        loaded = self._require_loaded()
        peak = PeakMemory(loaded.device)
        try:
            with torch.inference_mode():
                self._answer_with_retry(turn, settings, cancel, on_delta, stats, peak, ready)
        except BaseException:
            if stats.stop_reason is None:
                stats.stop_reason = "error"
            raise
        finally:
            stats.peak_memory_bytes = peak.peak_bytes
            stats.memory_kind = peak.kind
            stats.t_end = time.monotonic()
            self.last_stats = stats
            self._turn_cancel = None
            with self._reset_lock:  # a reset asked for meanwhile happens before the next turn can start
                if self._reset_pending:
                    self._forget_conversation()
                # before the end is announced: the caller may start the next turn at once
                self._turn_lock.release()
        return stats

    def _forget_conversation(self) -> None:
        """Called with the turn lock held."""
        self._reset_pending = False
        self._conversation = Conversation.seeded(self._seed)
        self._seed = ()
        if self._loaded is not None:
            free_memory(self._loaded.device)

    def _answer_with_retry(
        self,
        turn: Turn,
        settings: GenerationSettings,
        cancel: CancelToken,
        on_delta: Callable[[TextDelta], None],
        stats: TurnStats,
        peak: PeakMemory,
        ready: Callable[[], bool] | None,
    ) -> None:
        """Prefill and decode; an out-of-memory before any text was shown retries once with less media."""
        loaded = self._require_loaded()
        budget = self.media_budget
        for attempt in range(2):
            saved = snapshot(self._conversation)
            try:
                prefilled = self._prefill(turn, settings, budget, cancel, stats, peak, saved)
                if prefilled is None:  # cancelled before the model saw the turn: it never happened
                    restore(self._conversation, saved)
                    stats.stop_reason = "cancelled"
                    return
                if ready is not None:  # a speculative turn: decode only once it is confirmed
                    if not ready():
                        restore(self._conversation, saved)
                        stats.stop_reason = "dropped"
                        return
                    ready = None  # confirmed: an out-of-memory retry does not ask again
                decode_answer(loaded, self._conversation, prefilled, settings, cancel, stats, peak, on_delta)
                return
            except BaseException as error:
                out_of_memory = is_out_of_memory(error)
                # A partial answer the user saw stays in the conversation (marked interrupted);
                # anything earlier is undone, as if the turn had not started.
                shown = bool(stats.delta_times)  # only an attempt that showed nothing is retried
                if not (shown or (not out_of_memory and stats.t_first_token is not None)):
                    restore(self._conversation, saved)
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

    def _prefill(
        self,
        turn: Turn,
        settings: GenerationSettings,
        budget: MediaBudget,
        cancel: CancelToken,
        stats: TurnStats,
        peak: PeakMemory,
        saved: Snapshot,
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
            conversation.cache = saved.cache = None
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

    def _require_loaded(self) -> LoadedModel:
        if self._loaded is None:
            raise GenerationError("The model is not loaded yet: wait until loading has finished.")
        return self._loaded


_LOAD_CANCELLED = "Loading the model was cancelled."
_OOM_MESSAGE = (
    "Not enough memory for this turn, even with fewer frames and a lower resolution. "
    "Try a shorter clip or fewer images, start a new conversation, or use a smaller quantization (nf4)."
)
