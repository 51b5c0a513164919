"""Reading a clip that is not a turn (the Clone dialog's recording) with the captions' Whisper, and
the caption thread's lifetime: one per engine, ended when the engine is replaced."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from ola_core.assistant import captions as captions_module
from ola_core.assistant.captions import Captions, transcribe
from ola_core.assistant.components import Components
from ola_core.assistant.core import Assistant
from ola_core.engine import OlaEngine
from ola_core.errors import OlaError
from ola_core.events import AssistantEvent, UserCaption
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from ola_core.processing.audio import speech_features
from ola_core.trace import TraceRecorder
from tests.assistant.conftest import fast_settings, speak


def caption_of_a_turn(engine: OlaEngine, samples: np.ndarray) -> str:
    """What :class:`Captions` writes for ``samples`` (16 kHz) encoded as a spoken turn encodes them:
    the hook on the Whisper encoder collects the output of the model's speech encoder, and the
    caption thread decodes it once the answer has "started"."""
    heard: list[UserCaption] = []
    arrived = threading.Event()

    def emit(event: AssistantEvent) -> None:
        if isinstance(event, UserCaption):
            heard.append(event)
            arrived.set()

    captions = Captions.for_engine(engine, emit, time.monotonic)
    assert captions is not None, "the tiny checkpoint has Whisper's tokenizer"
    try:
        watch = captions.watch(1, TraceRecorder(1, "voice"))
        speech = speech_features(samples).speech
        loaded = engine.loaded_model
        assert loaded is not None
        with torch.inference_mode():
            loaded.model.model.speech_encoder(speech.mels, speech.wavs)
        captions.answer_started(watch)
        assert arrived.wait(120), "no caption"
    finally:
        captions.close()
    return heard[0].text


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return speak("My voice, read aloud for a new voice.")


def _assistant(loaded: LoadedOla, tiny: TinyCheckpoint) -> Assistant:
    engine = OlaEngine.from_loaded(loaded, model_dir=tiny.model_dir)
    return Assistant(fast_settings(tiny), components=Components(engine, None))


def test_transcribe_reads_what_the_captions_read(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, clip: np.ndarray
) -> None:
    assistant = _assistant(loaded, tiny_checkpoint)
    expected = caption_of_a_turn(OlaEngine.from_loaded(loaded, model_dir=tiny_checkpoint.model_dir), clip)
    assert expected and expected.replace(" ", "").isalpha()  # the tiny Whisper's made-up words
    assert assistant.transcribe(clip, 16_000) == expected
    # Any rate: the clip is resampled as a recording is (within the resampler's rounding).
    at_48k = np.repeat(clip, 3)
    assert assistant.transcribe(at_48k, 48_000).split()[0] == expected.split()[0]


def test_transcribe_during_a_watched_turn_leaves_the_turn_alone(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, clip: np.ndarray
) -> None:
    engine = OlaEngine.from_loaded(loaded, model_dir=tiny_checkpoint.model_dir)
    captions = Captions.for_engine(engine, lambda _e: None, time.monotonic)
    assert captions is not None
    try:
        watch = captions.watch(7, TraceRecorder(7, "voice"))
        transcribe(engine, clip, 16_000)
        assert watch.outputs == []  # the clip is not taken for the turn's question
    finally:
        captions.close()


def test_transcribe_without_a_model_or_tokenizer_says_why(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, clip: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(OlaError, match="wait until it has loaded"):
        transcribe(None, clip, 16_000)
    with pytest.raises(OlaError, match="wait until it has loaded"):
        transcribe(OlaEngine(tiny_checkpoint.model_dir), clip, 16_000)  # not loaded yet
    monkeypatch.setattr(captions_module, "find_whisper_tokenizer", lambda _whisper: None)
    with pytest.raises(OlaError, match=r"tokenizer\.json"):
        _assistant(loaded, tiny_checkpoint).transcribe(clip, 16_000)


def _caption_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "captions"]


def test_replacing_the_engine_ends_the_old_caption_thread(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint
) -> None:
    before = len(_caption_threads())
    assistant = _assistant(loaded, tiny_checkpoint)
    components = assistant._components
    assert components is not None
    made: list[Captions] = []
    for _ in range(4):  # as apply_settings with a new model: a new engine, then its first turn
        components.engine = OlaEngine.from_loaded(loaded, model_dir=tiny_checkpoint.model_dir)
        captions = assistant._turn_captions()
        assert captions is not None
        made.append(captions)
    for old in made[:-1]:
        old.thread.join(timeout=10)
        assert not old.thread.is_alive()
    assert made[-1].thread.is_alive()
    assert len(_caption_threads()) == before + 1
    made[-1].close()
    made[-1].thread.join(timeout=10)
    assert len(_caption_threads()) == before
