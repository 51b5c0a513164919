"""The watchdog turns a crashing or stalled synthesizer into a SynthesisError, and cancels cleanly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from ola_core.cancel import CancelToken
from ola_core.errors import MediaError, SynthesisError
from ola_core.speech.synthesizer import Synthesizer, WatchdogSynthesizer
from tests.speech.fakes import ToneSynthesizer


def _synth_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("synth-")]


def test_chunks_pass_through_unchanged() -> None:
    inner = ToneSynthesizer(seconds_per_char=0.01, chunk_s=0.05)
    direct = list(inner.synthesize("twenty characters.."))
    guarded = list(WatchdogSynthesizer(inner).synthesize("twenty characters.."))
    assert len(guarded) == len(direct) > 1
    for a, b in zip(guarded, direct, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_stall_between_chunks_becomes_an_error_within_the_watchdog_time() -> None:
    watchdog = WatchdogSynthesizer(ToneSynthesizer(stall_on="stall", stall_s=30), chunk_timeout=0.3)
    start = time.monotonic()
    with pytest.raises(SynthesisError, match="stopped responding"):
        list(watchdog.synthesize("please stall here, a long sentence"))
    assert 0.25 < time.monotonic() - start < 3.0
    # The stalled engine was told to cancel, so its worker ends instead of lingering.
    deadline = time.monotonic() + 2.0
    while _synth_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _synth_threads()


def test_a_slow_first_chunk_uses_its_own_timeout() -> None:
    class SlowStart(Synthesizer):
        name, sample_rate, languages = "slow", 16_000, frozenset({"en"})

        def synthesize(
            self, text: str, voice: str | None = None, cancel: CancelToken | None = None
        ) -> Iterator[np.ndarray]:
            time.sleep(0.4)
            yield np.zeros(10, np.float32)

    assert (
        len(
            list(WatchdogSynthesizer(SlowStart(), first_chunk_timeout=2.0, chunk_timeout=0.1).synthesize("x"))
        )
        == 1
    )
    with pytest.raises(SynthesisError):
        list(WatchdogSynthesizer(SlowStart(), first_chunk_timeout=0.1).synthesize("x"))


def test_an_exception_becomes_a_synthesis_error_with_its_cause() -> None:
    watchdog = WatchdogSynthesizer(ToneSynthesizer(fail_on="boom"))
    with pytest.raises(SynthesisError, match="failed") as caught:
        list(watchdog.synthesize("boom goes the voice"))
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_user_facing_errors_pass_through() -> None:
    class Picky(Synthesizer):
        name, sample_rate, languages = "picky", 16_000, frozenset({"en"})

        def synthesize(
            self, text: str, voice: str | None = None, cancel: CancelToken | None = None
        ) -> Iterator[np.ndarray]:
            raise MediaError("cannot read that")
            yield np.zeros(1, np.float32)

    with pytest.raises(MediaError):
        list(WatchdogSynthesizer(Picky()).synthesize("x"))


def test_cancel_from_another_thread_ends_the_stream_and_its_worker() -> None:
    inner = ToneSynthesizer(seconds_per_char=0.05, chunk_s=0.05, delay_s=0.05)  # ~2.5 s to synthesize
    watchdog = WatchdogSynthesizer(inner)
    chunks = 0
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    start = time.monotonic()
    for _ in watchdog.synthesize("a sentence of about fifty characters, long enough", cancel=token):
        chunks += 1
    assert time.monotonic() - start < 1.5
    assert 0 < chunks < 40
    assert inner.cancelled.is_set()
    deadline = time.monotonic() + 2.0
    while _synth_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _synth_threads()


def test_a_cancelled_turn_does_not_silence_the_next_sentence() -> None:
    watchdog = WatchdogSynthesizer(ToneSynthesizer())
    cancelled = CancelToken()
    cancelled.cancel("barge_in")
    assert list(watchdog.synthesize("the old answer", cancel=cancelled)) == []
    assert len(list(watchdog.synthesize("the next sentence", cancel=CancelToken()))) > 0


def test_warm_up_failures_and_stalls_are_reported() -> None:
    class BadWarmUp(ToneSynthesizer):
        def warm_up(self) -> None:
            raise OSError("model file unreadable")

    class StuckWarmUp(ToneSynthesizer):
        def warm_up(self) -> None:
            time.sleep(1.0)

    with pytest.raises(SynthesisError, match="OSError"):
        WatchdogSynthesizer(BadWarmUp()).warm_up()
    with pytest.raises(SynthesisError, match="warming up"):
        WatchdogSynthesizer(StuckWarmUp(), first_chunk_timeout=0.2).warm_up()


def test_a_voice_that_does_not_stream_text_gets_the_pieces_joined() -> None:
    inner = ToneSynthesizer()
    guarded = WatchdogSynthesizer(inner)
    assert not guarded.streams_text
    chunks = list(guarded.synthesize_pieces(iter(["Hello", " there,", " you."])))
    assert inner.calls == ["Hello there, you."] and chunks


def test_pieces_run_under_the_watchdog_and_waiting_for_text_is_no_stall() -> None:
    class Streaming(ToneSynthesizer):
        streams_text = True

        def synthesize_pieces(self, pieces, voice=None, cancel=None):  # type: ignore[no-untyped-def]
            for piece in pieces:
                yield from self.synthesize(piece, voice, cancel)

    def slow_text() -> Iterator[str]:
        for piece in ["One two", " three four"]:
            time.sleep(0.5)  # the model is slow: longer than the watchdog's time
            yield piece

    guarded = WatchdogSynthesizer(Streaming(), first_chunk_timeout=0.2, chunk_timeout=0.2)
    assert guarded.streams_text
    assert len(list(guarded.synthesize_pieces(slow_text()))) >= 2
    stalling = WatchdogSynthesizer(Streaming(stall_on="stall"), chunk_timeout=0.2)
    with pytest.raises(SynthesisError):
        list(stalling.synthesize_pieces(iter(["Please stall on this long text"])))
