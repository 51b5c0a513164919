"""SpeechPipeline: ordering, overlap, events, errors within the watchdog time, clean cancellation."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from ola_core.errors import AudioDeviceError, SynthesisError
from ola_core.speech.pipeline import (
    SentenceQueued,
    SentenceStarted,
    SentenceSynthesized,
    SpeechError,
    SpeechEvent,
    SpeechFinished,
    SpeechPipeline,
)
from ola_core.speech.player import AudioPlayer
from ola_core.speech.recording import RecordingSink
from tests.speech.audio_helpers import kill_sink_input, our_sink_inputs
from tests.speech.fakes import ToneSynthesizer

TEXT = "The first sentence is right here. The second one follows it. And a third one ends the answer."


class Events:
    def __init__(self) -> None:
        self.items: list[SpeechEvent] = []
        self.lock = threading.Lock()

    def __call__(self, event: SpeechEvent) -> None:
        with self.lock:
            self.items.append(event)

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [e for e in self.items if isinstance(e, kind)]

    def wait_for(self, kind: type, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.of(kind):
                return found[0]
            time.sleep(0.01)
        return None


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_streamed_text_is_spoken_sentence_by_sentence() -> None:
    events = Events()
    sink = RecordingSink()
    synth = ToneSynthesizer(seconds_per_char=0.01)
    pipeline = SpeechPipeline(synth, sink, on_event=events)
    try:
        for i in range(0, len(TEXT), 3):  # token-sized deltas
            pipeline.feed(TEXT[i : i + 3])
        pipeline.finish()
        assert pipeline.wait(5.0)
    finally:
        pipeline.close()
    assert synth.calls == [
        "The first sentence is right here.",
        "The second one follows it.",
        "And a third one ends the answer.",
    ]
    assert [e.index for e in events.of(SentenceQueued)] == [0, 1, 2]
    assert [e.index for e in events.of(SentenceStarted)] == [0, 1, 2]
    synthesized = events.of(SentenceSynthesized)
    assert [e.index for e in synthesized] == [0, 1, 2]
    assert all(e.t_first_chunk <= e.t for e in synthesized)
    # "first chunk synthesized" never comes after "first sample played", even when writing is playing.
    assert all(s.t_first_chunk <= p.t for s, p in zip(synthesized, events.of(SentenceStarted), strict=True))
    finished = events.of(SpeechFinished)
    assert len(finished) == 1 and finished[0].sentences == 3
    rendered = sink.rendered()
    expected = sum(int(len(s) * 0.01 * synth.sample_rate) for s in synth.calls)
    assert len(rendered.pcm) == expected
    assert [index for index, _, _ in rendered.sentences] == [0, 1, 2]


@pytest.mark.audio
def test_synthesis_of_the_next_sentence_overlaps_playback(virtual_audio: Any) -> None:
    """Sentence 2 is synthesized while sentence 1 still plays, so it starts without a pause."""
    events = Events()
    synth = ToneSynthesizer(seconds_per_char=0.02, delay_s=0.01)  # ~0.7 s of audio per sentence
    pipeline = SpeechPipeline(synth, AudioPlayer(), on_event=events)
    try:
        pipeline.speak(TEXT)
        assert pipeline.wait(10.0)
        assert pipeline.player is not None
        underruns = pipeline.player.underruns  # type: ignore[attr-defined]
    finally:
        pipeline.close()
    started = events.of(SentenceStarted)
    synthesized = events.of(SentenceSynthesized)
    assert synthesized[1].t < started[1].t and synthesized[1].t_first_chunk < started[0].t + 0.7
    durations = [s.audio_seconds for s in synthesized]
    gaps = [started[i + 1].t - started[i].t - durations[i] for i in range(2)]
    assert all(abs(g) < 0.05 for g in gaps), gaps  # back to back
    assert underruns == 0


@pytest.mark.audio
def test_cancel_mid_sentence_silences_and_leaves_no_thread(virtual_audio: Any) -> None:
    before = _threads()
    events = Events()
    synth = ToneSynthesizer(seconds_per_char=0.05, chunk_s=0.1, delay_s=0.02)
    player = AudioPlayer()
    pipeline = SpeechPipeline(synth, player, on_event=events)
    pipeline.speak(TEXT)
    assert events.wait_for(SentenceStarted) is not None
    time.sleep(0.3)
    t_cancel = time.monotonic()
    pipeline.cancel()
    cancel_s = time.monotonic() - t_cancel
    assert cancel_s < 0.1
    assert pipeline.wait(0.1)
    time.sleep(0.3)
    played = player.played.read(0) if player.played else None
    assert played is not None
    # The played-signal record maps samples to wall time through the callbacks' timing, which
    # drifts by tens of ms on a loaded 2-core machine: silence is required 100 ms after cancel().
    after_cancel = int((t_cancel + 0.1 - played.t_start) * played.sample_rate)
    assert np.abs(played.pcm[after_cancel:]).max() == 0.0
    assert not events.of(SpeechFinished)  # the cancelled answer never "finishes"
    assert synth.cancelled.is_set()
    # The pipeline is reusable after a barge-in.
    events.items.clear()
    pipeline.speak("A fresh answer after the interruption.")
    assert pipeline.wait(10.0)
    assert [e.sentences for e in events.of(SpeechFinished)] == [1]
    pipeline.close()
    deadline = time.monotonic() + 2.0
    while _threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _threads() - before == set()


def test_cancel_while_synthesizing_leaves_no_thread_without_a_device() -> None:
    before = _threads()
    sink = RecordingSink()
    synth = ToneSynthesizer(seconds_per_char=0.05, chunk_s=0.05, delay_s=0.05)  # slow voice
    pipeline = SpeechPipeline(synth, sink)
    pipeline.speak(TEXT)
    time.sleep(0.3)
    pipeline.cancel()
    recorded = len(sink.rendered().pcm)
    time.sleep(0.3)
    assert len(sink.rendered().pcm) == recorded  # nothing more arrives after cancel()
    assert len(synth.calls) == 1  # later sentences of the cancelled answer were dropped
    pipeline.close()
    assert _threads() - before == set()


def test_text_of_a_cancelled_turn_never_starts_a_new_utterance() -> None:
    """The answer thread may hand over one more delta after the cancel (it checked just before):
    given the turn's token, the pipeline drops it instead of speaking it as a new answer."""
    sink, events = RecordingSink(), Events()
    synth = ToneSynthesizer()
    pipeline = SpeechPipeline(synth, sink, on_event=events)
    token = pipeline.begin(7)
    pipeline.feed("The first sentence is right here. ", token)
    token.cancel("barge_in")
    pipeline.feed("A sentence after the cancel. And another one. ", token)
    pipeline.finish(token)
    time.sleep(0.3)
    assert not any("cancel" in call or "another" in call for call in synth.calls)
    assert {e.turn for e in events.items} <= {7}  # no utterance numbered after the cancelled one
    assert not events.of(SpeechFinished)  # the cancelled turn does not "finish"
    pipeline.close()


class NoSpeakerSink(RecordingSink):
    """A sink standing for a machine without any output device: every call needing it fails."""

    def _no_device(self, *args: Any, **kwargs: Any) -> None:
        raise AudioDeviceError("No speaker found. Connect one, or pick an output device in the settings.")

    play = end = _no_device


def test_no_speaker_is_an_error_event_not_a_thread_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    crashes: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    events = Events()
    pipeline = SpeechPipeline(ToneSynthesizer(), NoSpeakerSink(), on_event=events)
    try:
        pipeline.speak(TEXT)
        error = events.wait_for(SpeechError, timeout=5.0)
        assert error is not None and isinstance(error.error, AudioDeviceError)
        assert pipeline.wait(2.0)
        pipeline.speak("")  # an empty answer ends through the same device-less path
        assert pipeline.wait(2.0)
    finally:
        pipeline.close()
    assert crashes == []


@pytest.mark.parametrize(("fault", "kwargs"), [("fail_on", {}), ("stall_on", {"stall_s": 30.0})])
def test_a_failing_or_stalled_voice_becomes_an_error_event(fault: str, kwargs: dict[str, Any]) -> None:
    events = Events()
    synth = ToneSynthesizer(**{fault: "second"}, **kwargs)
    pipeline = SpeechPipeline(synth, RecordingSink(), on_event=events, chunk_timeout=0.5)
    try:
        start = time.monotonic()
        pipeline.speak(TEXT)
        error = events.wait_for(SpeechError, timeout=5.0)
        assert error is not None and isinstance(error.error, SynthesisError)
        assert time.monotonic() - start < 3.0  # within the watchdog time, not the 30 s stall
        assert pipeline.wait(2.0)
        assert "And a third one ends the answer." not in synth.calls  # the rest was dropped
        # The next answer is spoken normally.
        events.items.clear()
        pipeline.speak("A new answer that works.")
        assert pipeline.wait(5.0)
        assert events.of(SpeechFinished)
    finally:
        pipeline.close()


def test_render_offline_and_write_a_wav(tmp_path: Path) -> None:
    events = Events()
    synth = ToneSynthesizer(seconds_per_char=0.01)
    rendered = SpeechPipeline(synth, on_event=events).render(
        ["The first sentence is ", "right here. Then more."]
    )
    assert [text for _, text, _ in rendered.sentences] == ["The first sentence is right here.", "Then more."]
    assert rendered.sentences[1][2] == pytest.approx(
        len("The first sentence is right here.") * 0.01, abs=1e-3
    )
    path = tmp_path / "answer.wav"
    rendered.write_wav(path)
    pcm, rate = soundfile.read(str(path), dtype="float32")
    assert rate == synth.sample_rate and len(pcm) == len(rendered.pcm)
    assert len(events.of(SentenceSynthesized)) == 2 and len(events.of(SpeechFinished)) == 1


def test_render_raises_when_the_voice_stalls() -> None:
    pipeline = SpeechPipeline(ToneSynthesizer(stall_on="stall"), chunk_timeout=0.3)
    with pytest.raises(SynthesisError):
        pipeline.render("Please stall on this long sentence.")


def test_an_empty_answer_finishes_at_once() -> None:
    events = Events()
    pipeline = SpeechPipeline(ToneSynthesizer(), RecordingSink(), on_event=events)
    try:
        pipeline.speak("```\ncode only\n```")
        assert pipeline.wait(2.0)
        assert [e.sentences for e in events.of(SpeechFinished)] == [0]
    finally:
        pipeline.close()


@pytest.mark.audio
def test_a_vanishing_speaker_is_an_error_event_for_the_answer_being_spoken(virtual_audio: Any) -> None:
    events = Events()
    pipeline = SpeechPipeline(ToneSynthesizer(seconds_per_char=0.05), AudioPlayer(), on_event=events)
    try:
        pipeline.speak(TEXT)
        assert events.wait_for(SentenceStarted) is not None
        streams = our_sink_inputs()
        assert len(streams) == 1
        kill_sink_input(streams[0])
        error = events.wait_for(SpeechError, timeout=3.0)
        assert error is not None and isinstance(error.error, AudioDeviceError)
        assert error.turn == 0
        assert pipeline.wait(1.0)
    finally:
        pipeline.close()


def test_an_offline_voice_starts_at_the_first_clause() -> None:
    """The first chunk ends at a clause break: the voice speaks it while the sentence is written."""
    events = Events()
    synth = ToneSynthesizer()
    pipeline = SpeechPipeline(synth, RecordingSink(), on_event=events)
    text = "Well, the weather today is sunny and warm, so we can go out for a long walk in the park."
    fed = []
    try:
        for i, word in enumerate(text.split(" ")):
            pipeline.feed(word if i == 0 else " " + word)
            fed.append((time.monotonic(), word))
            time.sleep(0.02)
        pipeline.finish()
        assert pipeline.wait(5.0)
    finally:
        pipeline.close()
    assert synth.calls == [
        "Well, the weather today is sunny and warm,",
        "so we can go out for a long walk in the park.",
    ]
    first = events.of(SentenceSynthesized)[0]
    t_so = next(t for t, word in fed if word == "so")
    assert events.of(SentenceQueued)[0].t <= t_so  # released when the next word came
    assert first.t_first_chunk < fed[-1][0]  # its audio existed before the sentence was complete
