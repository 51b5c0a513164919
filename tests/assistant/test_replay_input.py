"""The replayed microphone: the same utterance gives the same turn, whatever came before it."""

from __future__ import annotations

import threading

import numpy as np

from ola_core.assistant.audio_in import ReplayInput
from ola_core.assistant.echo import EchoGuard
from ola_core.capture.events import CaptureEvent, SpeechEnded
from ola_core.settings import AudioSettings
from tests.assistant.conftest import speak


def test_an_utterance_is_framed_the_same_after_any_silence() -> None:
    clip = np.rint(speak("What is on my desk?") * 32767).astype(np.int16)
    ended: list[SpeechEnded] = []
    done = threading.Event()

    def on_event(event: CaptureEvent) -> None:
        if isinstance(event, SpeechEnded):
            ended.append(event)
            if len(ended) == 4:
                done.set()

    replay = ReplayInput()
    replay.open(
        settings=AudioSettings(adaptive_endpointing=False), echo=EchoGuard("headphones"), on_event=on_event
    )
    try:
        replay.say(np.zeros(16000, np.int16))  # a quiet room first: every utterance has its pre-roll
        # The first utterance primes webrtcvad (its model adapts to what it heard); the next ones start
        # 0, 1 or 2 blocks after a frame edge unless the replay aligns them.
        for extra_blocks in (0, 0, 1, 2):
            silence = np.zeros(16000 + extra_blocks * ReplayInput.BLOCK, np.int16)
            replay.say(np.concatenate([clip, silence]))
        assert done.wait(30), f"{len(ended)} turns ended"
    finally:
        replay.close()
    primed = ended[1:]
    assert [len(e.pcm) for e in primed] == [len(primed[0].pcm)] * 3
    assert all(np.array_equal(e.pcm, primed[0].pcm) for e in primed)
