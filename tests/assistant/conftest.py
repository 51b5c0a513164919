"""Shared pieces of the assistant tests: a tiny checkpoint loaded once, spoken questions, video.

The assistant runs the REAL engine on a tiny random checkpoint written by our own code (fp32 on
the CPU: bf16 is slower there), the real endpointer, the real speech pipeline with the offline
espeak-ng voice, and, where a test needs devices, the virtual PulseAudio microphone/speaker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar, cast

import numpy as np
import pytest
import soundfile
import torch

from ola_core.assistant.components import Components
from ola_core.assistant.headless import HeadlessSession
from ola_core.assistant.speech_out import SpeechOutput
from ola_core.engine import OlaEngine
from ola_core.events import AssistantEvent
from ola_core.model.loading import LoadedOla, load_ola
from ola_core.model.tiny import TinyCheckpoint, write_tiny_checkpoint
from ola_core.processing.audio import load_audio
from ola_core.settings import AudioSettings, GenerationPreferences, Settings, VoiceSettings
from ola_core.speech.espeak_voice import EspeakSynthesizer

EventT = TypeVar("EventT", bound=AssistantEvent)


def wait_for_event(
    session: HeadlessSession,
    kind: type[EventT],
    *,
    after: int,
    timeout: float = 10.0,
    where: Callable[[EventT], bool] = lambda _: True,
) -> EventT:
    """The first ``kind`` event at index ≥ ``after`` (a :meth:`HeadlessSession.mark`) that ``where``
    accepts, waiting up to ``timeout`` s; the test fails, listing what came instead, if none does.

    Why: the assistant emits events from its own threads, and some come after the event a test
    waited for (the error after the device event, the idle state after ``TurnFinished``). A check
    of the event list made right after an action races with them; waiting for the event does not.
    """
    found = session.wait_for(lambda e: isinstance(e, kind) and where(cast(EventT, e)), timeout, after=after)
    if found is None:
        seen = [type(e).__name__ for e in session.events[after:] if type(e).__name__ != "InputLevel"]
        pytest.fail(f"no matching {kind.__name__} within {timeout} s; events since the mark: {seen}")
    return cast(EventT, found)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("assistant-tiny"), seed=0)


@pytest.fixture(scope="session")
def loaded(tiny_checkpoint: TinyCheckpoint) -> LoadedOla:
    return load_ola(tiny_checkpoint.model_dir, device="cpu", dtype=torch.float32)


def speak(text: str, voice: str | None = None) -> np.ndarray:
    """``text`` spoken by espeak-ng (the user's voice in these tests): (n,) float32 at 16 kHz."""
    synth = EspeakSynthesizer()
    pcm = np.concatenate(list(synth.synthesize(text, voice)))
    return load_audio(pcm, synth.sample_rate)


@pytest.fixture(scope="session")
def question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spoken question as a wav file (22.05 kHz, as a user's recording might be)."""
    path = tmp_path_factory.mktemp("audio") / "question.wav"
    synth = EspeakSynthesizer()
    soundfile.write(path, np.concatenate(list(synth.synthesize("What is on my desk?"))), synth.sample_rate)
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s, 10 fps video whose frames are numbered by their brightness (frame k has value 10·k)."""
    import cv2

    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for k in range(20):
        writer.write(np.full((48, 64, 3), 10 * k, np.uint8))
    writer.release()
    return path


def fast_settings(tiny: TinyCheckpoint, **audio: object) -> Settings:
    """Settings for fast tests: short end-of-turn silence, few new tokens, greedy, espeak voice."""
    return Settings(
        audio=dataclasses.replace(AudioSettings(end_of_turn_silence_ms=300), **audio),  # type: ignore[arg-type]
        voice=VoiceSettings(voice="espeak-ng", speaking_rate=1.5),
        generation=GenerationPreferences(max_new_tokens=6, temperature=0.0),
    ).replace(
        model=dataclasses.replace(
            Settings().model, model_dir=str(tiny.model_dir), quantization="none", device="cpu"
        )
    )


def make_session(
    loaded: LoadedOla, tiny: TinyCheckpoint, settings: Settings, **kwargs: object
) -> HeadlessSession:
    """A headless assistant on the shared tiny model (a fresh conversation), answers recorded."""
    speech = SpeechOutput.from_settings(
        settings, wav_path=kwargs.pop("out_wav", None), play=bool(kwargs.pop("play", False))
    )  # type: ignore[arg-type]
    engine = OlaEngine.from_loaded(loaded, model_dir=tiny.model_dir)
    return HeadlessSession(settings, components=Components(engine, speech), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def session(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, tmp_path: Path, virtual_audio: object
) -> Iterator[HeadlessSession]:
    """Replayed microphone; answers played on the virtual speaker and recorded to answer.wav."""
    s = make_session(
        loaded, tiny_checkpoint, fast_settings(tiny_checkpoint), out_wav=tmp_path / "answer.wav", play=True
    )
    s.start(timeout=120)
    yield s
    s.close()
