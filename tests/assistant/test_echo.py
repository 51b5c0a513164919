"""Echo safety on real (virtual) devices: the assistant's voice is played INTO its own microphone.

The player's output goes to the ``micfeed`` sink, whose monitor is the microphone ``mic``: the
assistant hears itself exactly as loud as it speaks (a worst case: a loudspeaker right at the
microphone). Its own voice must not start a turn nor barge in; a second voice over it must.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ola_core.assistant.audio_in import MicrophoneInput
from ola_core.assistant.echo import EchoGuard
from ola_core.assistant.headless import HeadlessSession
from ola_core.events import StateChanged, TurnFinished, UserTurnCaptured
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from tests.assistant.conftest import fast_settings, make_session, speak

pytestmark = [pytest.mark.audio, pytest.mark.slow]

LISTEN_S = 4.0  # seconds of the assistant's own voice the microphone hears


@pytest.fixture
def loopback(virtual_audio: object) -> None:
    """The virtual devices are there (the assistant's speaker is set to ``micfeed`` below)."""


@pytest.fixture(scope="module")
def second_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("voice") / "second.wav"
    pcm = speak("Wait, stop please, I have another question about the picture on my screen.", "en+f3")
    soundfile.write(path, pcm, 16000)
    return path


def _open(
    loaded: LoadedOla, tiny: TinyCheckpoint, echo_mode: str, echo: EchoGuard | None = None
) -> HeadlessSession:
    settings = fast_settings(tiny, echo_mode=echo_mode, speaker="micfeed")  # its voice goes into its mic
    # A long answer (120 tokens ≈ 6 s of speech at rate 1.5): it must still be playing LISTEN_S later.
    settings = settings.replace(generation=settings.generation.__class__(max_new_tokens=120, temperature=0.0))
    session = make_session(loaded, tiny, settings, play=True, audio_input=MicrophoneInput(), echo=echo)
    session.start(timeout=120)
    return session


def _answer_aloud(session: HeadlessSession) -> int:
    """Ask a typed question whose (tiny-model) answer is long, and wait until it is heard."""
    start = session.mark()
    session.assistant.send_text("hello there")
    speaking = session.wait_for(
        lambda e: isinstance(e, StateChanged) and e.state == "speaking", 60, after=start
    )
    assert speaking is not None, "the answer never started playing"
    return start


@pytest.fixture
def speakers(loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, loopback: None) -> Iterator[HeadlessSession]:
    session = _open(loaded, tiny_checkpoint, "speakers")
    assert session.assistant._echo.method == "aec"
    yield session
    session.close()


def _heard_itself(session: HeadlessSession, start: int) -> bool:
    return any(
        (isinstance(e, UserTurnCaptured) and e.kind == "voice")
        or (isinstance(e, TurnFinished) and e.outcome == "barge_in")
        for e in session.events[start:]
    )


def _play_into_mic(path: Path, volume: int = 65536) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["paplay", "-d", "micfeed", f"--volume={volume}", str(path)])


def test_own_voice_does_not_trigger_with_echo_cancellation(speakers: HeadlessSession) -> None:
    start = _answer_aloud(speakers)
    time.sleep(LISTEN_S)
    assert speakers.assistant.state == "speaking", [
        e for e in speakers.events[start:] if type(e).__name__ not in ("InputLevel", "AssistantTextDelta")
    ]
    assert not _heard_itself(speakers, start)


def test_second_voice_over_own_voice_barges_in(speakers: HeadlessSession, second_voice: Path) -> None:
    start = _answer_aloud(speakers)
    time.sleep(0.5)
    _play_into_mic(second_voice).wait(timeout=30)
    finished = speakers.wait_for(lambda e: isinstance(e, TurnFinished), 10, after=start)
    assert isinstance(finished, TurnFinished) and finished.outcome == "barge_in"
    captured = speakers.wait_for(
        lambda e: isinstance(e, UserTurnCaptured) and e.kind == "voice", 30, after=start
    )
    assert isinstance(captured, UserTurnCaptured) and captured.kind == "voice" and captured.duration_s > 0.5


def test_without_protection_the_loop_does_hear_itself(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, loopback: None
) -> None:
    """The control: with echo protection off ("headphones") the same loopback barges in."""
    session = _open(loaded, tiny_checkpoint, "headphones")
    try:
        start = _answer_aloud(session)
        heard = session.wait_for(lambda e: _heard_itself(session, start), LISTEN_S * 2, after=start)
        assert heard is not None, [
            e for e in session.events[start:] if type(e).__name__ not in ("InputLevel", "AssistantTextDelta")
        ]
    finally:
        session.close()


def test_half_duplex_gate_blocks_own_voice_and_passes_a_louder_one(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, loopback: None, second_voice: Path
) -> None:
    """The fallback when no canceller is available: only a voice louder than the playback gets through."""
    session = _open(loaded, tiny_checkpoint, "speakers", echo=EchoGuard("speakers", use_aec=False))
    try:
        assert session.assistant._echo.method == "gate"
        start = _answer_aloud(session)
        time.sleep(LISTEN_S)
        assert not _heard_itself(session, start)
        _play_into_mic(second_voice, volume=4 * 65536).wait(timeout=30)  # +12 dB over the playback
        finished = session.wait_for(lambda e: isinstance(e, TurnFinished), 10, after=start)
        assert isinstance(finished, TurnFinished) and finished.outcome == "barge_in"
    finally:
        session.close()


def test_echo_guard_measures_erle_on_our_voice() -> None:
    """Unit-level: the canceller removes ≥ 15 dB of our own voice through a digital loopback."""
    now = [0.0]
    guard = EchoGuard("speakers", clock=lambda: now[0])  # 20 ms of "wall time" per block below
    assert guard.method == "aec"
    far = speak("The weather today looks fine, and I can see a cup on your desk. " * 2)
    delay = 800  # 50 ms echo path
    near = np.concatenate([np.zeros(delay, np.float32), far])[: len(far)]
    out = []
    for i in range(0, len(far) - 320, 320):
        now[0] += 0.02
        guard.feed_reference(far[i : i + 320], 16000, now[0])
        out.append(guard.process(np.clip(near[i : i + 320] * 32767, -32768, 32767).astype(np.int16), 0.0))
    cleaned = np.concatenate(out).astype(np.float32) / 32768
    half = len(cleaned) // 2
    erle = 10 * np.log10(np.mean(near[half : len(cleaned)] ** 2) / max(np.mean(cleaned[half:] ** 2), 1e-12))
    assert erle > 15, f"ERLE {erle:.1f} dB"
