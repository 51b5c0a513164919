"""A failure in each stage becomes an error event, and the next turn works."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from ola_core.assistant.audio_in import MicrophoneInput
from ola_core.assistant.components import Components
from ola_core.assistant.headless import HeadlessSession
from ola_core.assistant.speech_out import SpeechOutput
from ola_core.cancel import CancelToken
from ola_core.engine import OlaEngine
from ola_core.errors import MediaError
from ola_core.events import DeviceEvent, ErrorRaised, TurnFinished, UserTurnCaptured
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from ola_core.speech.espeak_voice import EspeakSynthesizer
from ola_core.speech.recording import RecordingSink
from tests.assistant.conftest import fast_settings, make_session, speak, wait_for_event


class FailingOnceSynthesizer(EspeakSynthesizer):
    """The espeak voice, except that its first sentence crashes (failure injection)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 0  # armed by the test once the assistant has warmed up

    def synthesize(self, text: str, voice: str | None = None, cancel: CancelToken | None = None):  # type: ignore[no-untyped-def]
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("injected synthesizer crash")
        yield from super().synthesize(text, voice, cancel)


def _errors(session: HeadlessSession, start: int) -> list[ErrorRaised]:
    """Every error event since ``start``, once the first has arrived (it may trail the event waited for)."""
    wait_for_event(session, ErrorRaised, after=start)
    return [e for e in session.events[start:] if isinstance(e, ErrorRaised)]


def test_synthesizer_crash_is_an_error_event_and_the_next_turn_speaks(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint
) -> None:
    settings = fast_settings(tiny_checkpoint)
    synthesizer = FailingOnceSynthesizer()
    speech = SpeechOutput(synthesizer, RecordingSink(None))
    session = HeadlessSession(
        settings,
        components=Components(OlaEngine.from_loaded(loaded, model_dir=tiny_checkpoint.model_dir), speech),
    )
    session.start(60)
    synthesizer.failures_left = 1
    try:
        start = session.mark()
        first = session.ask_text("hello there", timeout=60)
        assert first is not None and first.outcome == "completed" and first.text  # the text still came
        assert first.trace.t_first_played is None  # but was not spoken
        errors = _errors(session, start)
        assert [e.area for e in errors] == ["synthesis"] and errors[0].error_type == "SynthesisError"
        assert "injected synthesizer crash" in errors[0].message
        second = session.ask_text("and now?", timeout=60)
        assert (
            second is not None and second.outcome == "completed" and second.trace.t_first_played is not None
        )
        assert session.assistant.wait_idle(10) and session.assistant.state == "idle"  # set after TurnFinished
    finally:
        session.close()


def test_out_of_memory_in_the_engine_is_an_error_event_and_the_next_turn_works(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = make_session(loaded, tiny_checkpoint, fast_settings(tiny_checkpoint))
    session.start(60)
    model = loaded.model
    real_forward = model.forward
    calls = {"n": 0}

    def out_of_memory(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    try:
        monkeypatch.setattr(model, "forward", out_of_memory)
        start = session.mark()
        failed = session.ask_text("hello there", timeout=60)
        assert failed is not None and failed.outcome == "error" and calls["n"] >= 1
        errors = _errors(session, start)
        assert errors and errors[0].area == "generation" and errors[0].error_type == "InsufficientMemoryError"
        monkeypatch.setattr(model, "forward", real_forward)
        again = session.ask_text("hello again", timeout=60)
        assert again is not None and again.outcome == "completed" and again.text
    finally:
        monkeypatch.undo()
        session.close()


def test_bad_attachment_is_an_error_event_and_the_loop_carries_on(
    session: HeadlessSession, tmp_path: Path
) -> None:
    broken = tmp_path / "photo.png"
    broken.write_bytes(b"not a png at all")
    start = session.mark()
    session.assistant.attach(broken)  # refused at once, with a message naming the file
    error = session.wait_for(lambda e: isinstance(e, ErrorRaised), 10, after=start)
    assert (
        isinstance(error, ErrorRaised) and error.area == "media" and error.error_type == MediaError.__name__
    )
    assert "photo.png" in error.message
    answered = session.ask_text("what is this?", timeout=60)  # the question goes without the bad file
    assert answered is not None and answered.outcome == "completed"


@pytest.fixture
def live_mic(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, virtual_audio: object
) -> Iterator[HeadlessSession]:
    session = make_session(
        loaded, tiny_checkpoint, fast_settings(tiny_checkpoint), audio_input=MicrophoneInput()
    )
    session.start(60)
    yield session
    session.close()
    _restore_mic()


def _restore_mic() -> None:
    sources = subprocess.run(["pactl", "list", "short", "sources"], capture_output=True, text=True).stdout
    if "mic" not in [line.split("\t")[1] for line in sources.splitlines() if "\t" in line]:
        subprocess.run(
            [
                "pactl",
                "load-module",
                "module-remap-source",
                "source_name=mic",
                "master=micfeed.monitor",
                "source_properties=device.description=Virtual-Mic",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(["pactl", "set-default-source", "mic"], check=True)


@pytest.mark.audio
@pytest.mark.slow
def test_microphone_gone_is_an_error_event_and_a_spoken_turn_works_when_it_is_back(
    live_mic: HeadlessSession, tmp_path: Path
) -> None:
    modules = subprocess.run(
        ["pactl", "list", "short", "modules"], capture_output=True, text=True, check=True
    ).stdout
    remap = next(line.split()[0] for line in modules.splitlines() if "source_name=mic" in line)
    start = live_mic.mark()
    subprocess.run(["pactl", "unload-module", remap], check=True)
    lost = wait_for_event(live_mic, DeviceEvent, after=start, where=lambda e: not e.available)
    assert lost.kind == "microphone" and lost.message
    # The error event is emitted just after the device event: wait for it too.
    error = wait_for_event(live_mic, ErrorRaised, after=start)
    assert error.area == "microphone" and error.error_type == "AudioDeviceError"
    _restore_mic()
    back = wait_for_event(live_mic, DeviceEvent, after=start, timeout=15, where=lambda e: e.available)
    assert back.kind == "microphone"
    time.sleep(0.5)
    wav = tmp_path / "q.wav"
    soundfile.write(wav, speak("What is on my desk?"), 16000)
    subprocess.run(["paplay", "-d", "micfeed", str(wav)], check=True, timeout=30)
    captured = live_mic.wait_for(
        lambda e: isinstance(e, UserTurnCaptured) and e.kind == "voice", 15, after=start
    )
    assert isinstance(captured, UserTurnCaptured)
    done = live_mic.wait_for(
        lambda e: isinstance(e, TurnFinished) and e.turn_id == captured.turn_id, 60, after=start
    )
    assert isinstance(done, TurnFinished) and done.outcome == "completed"
    assert np.isfinite(done.trace.mouth_to_ear_s or np.nan)
