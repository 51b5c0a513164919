"""Captions: what the user said, read from the Whisper encoder output the turn already computed.

A spoken turn runs Whisper's encoder as part of Ola's speech encoder. A forward hook on that
encoder keeps its output while the turn is watched (the spoken question is the last speech the
turn encodes: it comes last in the prompt), and once the answer has started — never before,
so never on the answer's critical path — the caption thread runs Whisper's own text decoder
(:mod:`ola_core.model.whisper_decoder`) over it, chunk by chunk. The words go out as a
:class:`~ola_core.events.UserCaption` event and into the turn's trace.

The decoder (about 1.8 GB at fp16 for large-v3) is loaded on the caption thread at the first
caption. It runs on the CPU in fp32, unless the memory profile is the 24 GB+ one, whose card has
room for it beside Ola (then in fp16 on the model's GPU). Without Whisper's ``tokenizer.json``
(downloaded with the model) there are no captions; the assistant works as before.

:func:`transcribe` reads a clip that is not a turn (the Clone dialog's recording) with the same
encoder and decoder. A decoder is shared by whoever holds it (captions and transcriptions of the
same files), never loaded twice at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ola_core.engine.engine import OlaEngine
from ola_core.errors import OlaError
from ola_core.events import AssistantEvent, UserCaption
from ola_core.model.locator import find_encoder_files, find_whisper_tokenizer
from ola_core.model.whisper import WhisperEncoder
from ola_core.processing.audio import load_audio, speech_features
from ola_core.trace import TraceRecorder

log = logging.getLogger(__name__)

GPU_PROFILE = "24gb"  # the memory profile with room for the decoder on the card


@dataclass
class CaptionWatch:
    """One spoken turn being watched: the Whisper outputs its encoding produced."""

    turn_id: int
    trace: TraceRecorder
    outputs: list[torch.Tensor] = field(default_factory=list)
    submitted: bool = False


class _Decoder:
    """The loaded decoder, its tokenizer and what it suppresses, on its device."""

    def __init__(self, whisper: Path, tokenizer: Path, device: torch.device) -> None:
        from ola_core.model.whisper_decoder import WhisperSpecials, load_whisper_decoder
        from ola_core.model.whisper_text import WhisperText

        dtype = torch.float16 if device.type == "cuda" else torch.float32
        self.decoder = load_whisper_decoder(whisper, dtype=dtype, device=device)
        self.text = WhisperText.from_file(tokenizer)
        specials = WhisperSpecials.from_n_vocab(self.decoder.token_embedding.num_embeddings)
        self.suppress = (*specials.always_suppressed(), *self.text.non_speech_ids())

    def caption(self, outputs: torch.Tensor) -> tuple[str, str]:
        """(text, language) of a clip's Whisper output (n_chunks, 1500, C)."""
        from ola_core.model.whisper_decoder import transcribe_greedy

        texts, language = [], ""
        for chunk in outputs:
            result = transcribe_greedy(self.decoder, chunk, self.suppress)
            language = language or result.language
            texts.append(self.text.decode(result.ids))
        return " ".join(t for t in texts if t), language


_decoders: weakref.WeakValueDictionary[tuple[Path, Path, torch.device], _Decoder] = (
    weakref.WeakValueDictionary()
)
_decoders_lock = threading.Lock()


def _shared_decoder(whisper: Path, tokenizer: Path, device: torch.device) -> _Decoder:
    """The decoder of these files on ``device``: the one already loaded, else a new one.

    Why weak: it lives as long as a user holds it (the engine's captions), so the 1.8 GB are
    freed with the engine, and a transcription beside the captions does not load a second copy.
    """
    key = (whisper, tokenizer, device)
    with _decoders_lock:
        decoder = _decoders.get(key)
        if decoder is None:
            decoder = _Decoder(whisper, tokenizer, device)
            _decoders[key] = decoder
            log.info("captions: Whisper decoder loaded on %s", device)
        return decoder


@dataclass(frozen=True)
class WhisperFiles:
    """What captions need of a loaded engine: its Whisper encoder and the decoder's files."""

    encoder: WhisperEncoder
    whisper: Path
    tokenizer: Path
    device: torch.device  # where the decoder runs


def whisper_files(engine: Any) -> WhisperFiles:
    """The captions' files of a loaded :class:`OlaEngine`; OlaError saying what is missing."""
    loaded = engine.loaded_model if isinstance(engine, OlaEngine) else None
    if loaded is None or engine.model_dir is None:
        raise OlaError("Reading speech needs the Ola model: wait until it has loaded.")
    whisper = find_encoder_files(engine.model_dir, engine.speech_encoder, engine.music_encoder).whisper
    tokenizer = find_whisper_tokenizer(whisper)
    if tokenizer is None:
        raise OlaError(
            f"Whisper's tokenizer.json is neither beside {whisper} nor in the Hugging Face cache: "
            "download the model again to read speech."
        )
    profile = getattr(loaded, "profile", None)
    on_gpu = loaded.device.type == "cuda" and getattr(profile, "name", None) == GPU_PROFILE
    device = loaded.device if on_gpu else torch.device("cpu")
    return WhisperFiles(loaded.model.model.speech_encoder.whisper_model, whisper, tokenizer, device)


def transcribe(engine: Any, samples: np.ndarray, rate: int) -> str:
    """What a clip says, by the engine's Whisper encoder and decoder, chunk by chunk as a caption.

    Seconds of work: call it off any GUI thread. The encoder runs through ``forward`` so that a
    turn's caption hook, if one is collecting at that moment, does not take this clip as the
    turn's question.
    """
    files = whisper_files(engine)
    pcm = load_audio(np.asarray(samples, dtype=np.float32), rate)
    mels = speech_features(pcm, "The clip").speech.mels  # (n, 3000, 128), as for a spoken turn
    weight = files.encoder.conv1.weight
    decoder = _shared_decoder(files.whisper, files.tokenizer, files.device)
    with torch.inference_mode():
        outputs = files.encoder.forward(mels.transpose(1, 2).to(weight.device, weight.dtype))
        text, _language = decoder.caption(outputs.to(decoder.decoder.ln.weight.device))
    return text


class Captions:
    """Captions for one engine: the hook on its Whisper encoder and the caption thread."""

    def __init__(
        self,
        files: WhisperFiles,
        emit: Callable[[AssistantEvent], None],
        clock: Callable[[], float],
    ) -> None:
        self._files = files
        self._emit = emit
        self._clock = clock
        self._lock = threading.Lock()
        self._watch: CaptionWatch | None = None
        self._jobs: queue.Queue[CaptionWatch | None] = queue.Queue()  # None: end the thread
        self._decoder: _Decoder | None = None
        self._failed = False
        self._hook = files.encoder.register_forward_hook(self._on_encoder_output)
        self.thread = threading.Thread(target=self._work, name="captions", daemon=True)
        self.thread.start()

    @classmethod
    def for_engine(
        cls, engine: Any, emit: Callable[[AssistantEvent], None], clock: Callable[[], float]
    ) -> Captions | None:
        """Captions for a loaded :class:`OlaEngine`, or None (another engine, or no Whisper tokenizer)."""
        if not isinstance(engine, OlaEngine) or engine.loaded_model is None:
            return None
        try:
            files = whisper_files(engine)
        except OlaError as error:
            log.info("no captions: %s", error)
            return None
        return cls(files, emit, clock)

    def close(self, wait_s: float = 0.0) -> None:
        """Remove the hook and end the caption thread after the caption it may be writing
        (the engine is being replaced: its decoder is freed with it). ``wait_s``: how long to
        wait for that (at shutdown: a daemon thread still inside torch when the interpreter
        exits aborts the process)."""
        self._hook.remove()
        self._jobs.put(None)
        if wait_s > 0:
            self.thread.join(wait_s)

    # ------------------------------------------------------------------ the turn's side
    def watch(self, turn_id: int, trace: TraceRecorder) -> CaptionWatch:
        """Collect the Whisper outputs of the turn about to be encoded (answer thread)."""
        watch = CaptionWatch(turn_id, trace)
        with self._lock:
            self._watch = watch
        return watch

    def answer_started(self, watch: CaptionWatch) -> None:
        """The answer has started: caption the turn's spoken question (idempotent)."""
        with self._lock:
            if watch.submitted or not watch.outputs:
                return
            watch.submitted = True
            if self._watch is watch:
                self._watch = None
        self._jobs.put(watch)

    def done(self, watch: CaptionWatch) -> None:
        """The engine has finished the turn: stop collecting for it."""
        with self._lock:
            if self._watch is watch:
                self._watch = None

    def _on_encoder_output(self, _module: Any, _inputs: Any, output: torch.Tensor) -> None:
        with self._lock:
            if self._watch is not None and not self._watch.submitted:
                self._watch.outputs.append(output.detach())

    # ------------------------------------------------------------------ the caption thread
    def _work(self) -> None:
        while (watch := self._jobs.get()) is not None:
            if self._failed:
                continue
            try:
                text, language = self._caption(watch.outputs[-1])
            except Exception as error:  # a caption is a nicety: never take the assistant down
                log.warning("caption of turn %d failed: %r", watch.turn_id, error)
                self._failed = self._decoder is None  # a decoder that cannot load is not retried
                continue
            watch.trace.set(caption=text, caption_language=language)
            self._emit(UserCaption(watch.turn_id, text, language, self._clock()))
        self._decoder = None  # freed unless a transcription still holds it

    def _caption(self, outputs: torch.Tensor) -> tuple[str, str]:
        if self._decoder is None:
            self._decoder = _shared_decoder(self._files.whisper, self._files.tokenizer, self._files.device)
        with torch.inference_mode():
            return self._decoder.caption(outputs.to(self._decoder.decoder.ln.weight.device))
