"""Text streaming: a voice that streams text gets a sentence's words while the model writes them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator

import numpy as np
import pytest

from ola_core.cancel import CancelToken
from ola_core.errors import SynthesisError
from ola_core.speech.pipeline import (
    SentenceQueued,
    SentenceStarted,
    SentenceSynthesized,
    SpeechError,
    SpeechFinished,
    SpeechPipeline,
)
from ola_core.speech.recording import RecordingSink
from ola_core.speech.splitter import SentenceSplitter
from ola_core.speech.streaming import MIN_STREAM_WORDS, PieceStream, stable_prefix, word_count
from tests.speech.fakes import ToneSynthesizer
from tests.speech.test_pipeline import Events

ANSWER = (
    "The weather in the city will stay sunny for most of the afternoon today. "
    "Tomorrow brings rain from the west, so take an umbrella with you."
)


class PieceToneSynthesizer(ToneSynthesizer):
    """Streams text: a tone chunk for every piece as soon as it arrives; records when each came."""

    streams_text = True

    def __init__(self, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.pieces: list[list[tuple[float, str]]] = []  # per call: (time it arrived, piece)
        self.first_chunk: list[float] = []

    def synthesize_pieces(
        self, pieces: Iterable[str], voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        received: list[tuple[float, str]] = []
        self.pieces.append(received)
        for piece in pieces:
            received.append((time.monotonic(), piece))
            if cancel is not None and cancel.is_set():
                return
            if len(received) == 1:
                self.first_chunk.append(time.monotonic())
            yield from self.synthesize(piece, voice, cancel)


def _feed_words(pipeline: SpeechPipeline, text: str, seconds_per_word: float) -> list[float]:
    """Feed ``text`` word by word (with the leading space, as tokens come); the time of each feed."""
    times = []
    for i, word in enumerate(text.split(" ")):
        pipeline.feed(word if i == 0 else " " + word)
        times.append(time.monotonic())
        time.sleep(seconds_per_word)
    return times


def test_stable_prefix_holds_back_the_word_that_may_still_grow() -> None:
    assert stable_prefix("The weather in the") == "The weather in"
    assert stable_prefix("It costs 12") == "It costs"
    assert stable_prefix("你桌上的红色杯子") == "你桌上的红色杯子"  # a Han character is complete
    assert stable_prefix("价格是12") == "价格是"
    assert stable_prefix("one") == ""
    assert word_count("The weather in") == 3 and word_count("你桌上的 cup") == 5


def test_a_streamed_sentence_starts_before_it_is_complete() -> None:
    events = Events()
    synth = PieceToneSynthesizer()
    pipeline = SpeechPipeline(synth, RecordingSink(), on_event=events)
    try:
        fed = _feed_words(pipeline, ANSWER, 0.03)
        pipeline.finish()
        assert pipeline.wait(10.0)
    finally:
        pipeline.close()
    splitter = SentenceSplitter()
    first, second = splitter.feed(ANSWER) + splitter.flush()
    # Each sentence went to the voice as pieces whose text is the sentence; audio came early.
    assert ["".join(p for _, p in call) for call in synth.pieces] == [first, second]
    assert len(synth.pieces[0]) > 3
    opened = synth.pieces[0][0][1]
    assert word_count(opened) == MIN_STREAM_WORDS  # the stream opened at the first few words
    end_of_first = fed[len(first.split(" ")) - 1]
    assert synth.first_chunk[0] < end_of_first - 0.1  # audio before the sentence's last word
    queued = events.of(SentenceQueued)
    assert [(e.index, e.text) for e in queued] == [(0, opened), (1, synth.pieces[1][0][1])]
    assert queued[0].t < end_of_first
    # Started and synthesized events carry whole sentences, in order.
    assert [(e.index, e.text) for e in events.of(SentenceStarted)] == [(0, first), (1, second)]
    synthesized = events.of(SentenceSynthesized)
    assert [e.text for e in synthesized] == [first, second]
    assert synthesized[0].t_first_chunk < end_of_first
    assert [e.sentences for e in events.of(SpeechFinished)] == [2]


def test_a_sentence_released_whole_is_synthesized_whole() -> None:
    """Text that arrives at once (a fast model, or ``speak``) takes the plain path."""
    events = Events()
    synth = PieceToneSynthesizer()
    pipeline = SpeechPipeline(synth, RecordingSink(), on_event=events)
    text = "The weather in the city will stay sunny today. Tomorrow it rains."
    try:
        pipeline.speak(text)
        assert pipeline.wait(10.0)
    finally:
        pipeline.close()
    assert synth.calls == ["The weather in the city will stay sunny today.", "Tomorrow it rains."]
    assert synth.pieces == []
    assert [e.sentences for e in events.of(SpeechFinished)] == [2]


def test_waiting_for_text_is_not_a_stall_of_the_voice() -> None:
    """The watchdog's clock does not run while the voice waits for the model's next word."""
    events = Events()
    pipeline = SpeechPipeline(PieceToneSynthesizer(), RecordingSink(), on_event=events, chunk_timeout=0.2)
    try:
        _feed_words(pipeline, "One two three four five six seven.", 0.4)  # 0.4 s between words
        pipeline.finish()
        assert pipeline.wait(10.0)
    finally:
        pipeline.close()
    assert not events.of(SpeechError)
    assert [e.sentences for e in events.of(SpeechFinished)] == [1]


def test_a_voice_that_stalls_on_its_text_is_still_an_error() -> None:
    events = Events()
    synth = PieceToneSynthesizer(stall_on="stall", stall_s=30.0)
    pipeline = SpeechPipeline(synth, RecordingSink(), on_event=events, chunk_timeout=0.3)
    try:
        start = time.monotonic()
        _feed_words(pipeline, "Please do not stall on this long piece of text", 0.01)
        error = events.wait_for(SpeechError, timeout=5.0)
        assert error is not None and isinstance(error.error, SynthesisError)
        assert time.monotonic() - start < 3.0
    finally:
        pipeline.cancel()
        pipeline.close()


def test_barge_in_during_a_streamed_sentence_silences_it_and_leaves_no_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    events = Events()
    sink = RecordingSink()
    synth = PieceToneSynthesizer()
    pipeline = SpeechPipeline(synth, sink, on_event=events)
    token = pipeline.begin(0)
    _feed_words(pipeline, "The first few words of a long sentence are here and", 0.01)
    assert events.wait_for(SentenceSynthesized, timeout=0.3) is None  # still streaming: not done
    assert synth.pieces and synth.pieces[0]
    token.cancel("barge-in")
    assert pipeline.wait(0.1)
    recorded = len(sink.rendered().pcm)
    time.sleep(0.3)
    assert len(sink.rendered().pcm) == recorded  # nothing of the old answer after the cancel
    assert not events.of(SpeechFinished) and not events.of(SentenceStarted)
    # The pipeline speaks the next answer.
    events.items.clear()
    pipeline.begin(1)
    _feed_words(pipeline, "A fresh answer after the interruption is spoken.", 0.01)
    pipeline.finish()
    assert pipeline.wait(10.0)
    assert [(e.turn, e.sentences) for e in events.of(SpeechFinished)] == [(1, 1)]
    pipeline.close()
    deadline = time.monotonic() + 2.0
    while {t.name for t in threading.enumerate()} - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert {t.name for t in threading.enumerate()} - before == set()


def test_words_spoken_beyond_a_chunk_are_skipped_by_the_next_sentence() -> None:
    """A run-on cut back at a clause: the stream already spoke words of the next chunk."""
    stream: PieceStream[None] = PieceStream(None, 0, CancelToken())
    stream.push("a long run, on and")
    overshoot, t_started = stream.finish("a long run,")
    assert overshoot == "on and" and t_started is None
    assert list(stream.pieces()) == ["a long run, on and"]
    following: PieceStream[None] = PieceStream(None, 1, CancelToken(), carried=overshoot)
    following.push("on and on it goes")
    following.finish("on and on it goes.")
    assert "".join(following.pieces()) == " on it goes."


@pytest.mark.parametrize("order", ["started first", "complete first"])
def test_a_streamed_sentence_is_reported_started_exactly_once(order: str) -> None:
    stream: PieceStream[None] = PieceStream(None, 0, CancelToken())
    stream.push("Some words of it")
    if order == "started first":
        assert not stream.started(1.5)
        assert stream.finish("Some words of it and more.") == ("", 1.5)
    else:
        assert stream.finish("Some words of it and more.") == ("", None)
        assert stream.started(1.5)
    assert stream.text == "Some words of it and more."


def test_a_voice_may_stream_some_sentences_only() -> None:
    """A voice routing by language (CosyVoice for English, espeak-ng for the rest) decides per
    sentence from its first words; the others go whole."""

    class EnglishStreams(PieceToneSynthesizer):
        def streams_text_for(self, text: str) -> bool:
            return text.isascii()

    synth = EnglishStreams()
    pipeline = SpeechPipeline(synth, RecordingSink())
    try:
        _feed_words(pipeline, "Ça va très bien merci beaucoup pour la question. " + ANSWER, 0.01)
        pipeline.finish()
        assert pipeline.wait(10.0)
    finally:
        pipeline.close()
    assert synth.calls[0] == "Ça va très bien merci beaucoup pour la question."  # whole
    assert len(synth.pieces) == 2  # the two English sentences were streamed
