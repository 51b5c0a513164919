"""CosyVoice2 text streaming through the speech pipeline (tiny folder), and the pieces' text rules."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ola_core.speech.cosyvoice.frontend import normalize_pieces
from ola_core.speech.cosyvoice.loading import LoadedCosyVoice
from ola_core.speech.cosyvoice.runtime import CosyVoiceRuntime
from ola_core.speech.cosyvoice.synthesizer import CosyVoiceSynthesizer
from ola_core.speech.pipeline import (
    SentenceQueued,
    SentenceStarted,
    SentenceSynthesized,
    SpeechFinished,
    SpeechPipeline,
)
from ola_core.speech.recording import RecordingSink
from tests.speech.test_pipeline import Events

ANSWER = (
    "Hello there, this is a longer test of the voice that keeps on talking for a while. It costs 12 dollars."
)


def test_pieces_are_normalised_as_they_come() -> None:
    pieces = ["It costs", " 12", " dollars, or", " 3.14%", " more &", " less."]
    assert list(normalize_pieces(pieces)) == [
        "It costs",
        " twelve dollars, or",  # the number waited for the next piece
        " three point one four percent more and",
        " less.",
    ]
    assert list(normalize_pieces(["Version 3", " of mp3", " files"])) == [
        "Version",
        " three of",
        " mp3 files",
    ]
    # The language is the stream's: a number in a Chinese sentence is read in Chinese.
    assert "".join(normalize_pieces(["你桌上有", "3", "个杯子"])) == "你桌上有三个杯子"


def test_the_pipeline_streams_the_answer_into_cosyvoice(
    tiny_cosyvoice_dir: Path, tiny_cosyvoice: LoadedCosyVoice
) -> None:
    synth = CosyVoiceSynthesizer(tiny_cosyvoice_dir, "cpu", greedy=True)
    synth._runtime = CosyVoiceRuntime(tiny_cosyvoice, greedy=True)  # reuse the session's loaded model
    events = Events()
    sink = RecordingSink()
    pipeline = SpeechPipeline(synth, sink, on_event=events, first_chunk_timeout=60.0)
    fed = []
    try:
        for i, word in enumerate(ANSWER.split(" ")):
            pipeline.feed(word if i == 0 else " " + word)
            fed.append(time.monotonic())
            time.sleep(0.1)  # 10 words a second
        pipeline.finish()
        assert pipeline.wait(120.0)
    finally:
        pipeline.close()
    first_sentence = "Hello there, this is a longer test of the voice that keeps on talking for a while."
    queued = events.of(SentenceQueued)
    assert queued[0].text == "Hello there, this is a"  # opened at the first five words
    started = events.of(SentenceStarted)
    assert [e.text for e in started] == [first_sentence, "It costs 12 dollars."]
    synthesized = events.of(SentenceSynthesized)
    end_of_first = fed[len(first_sentence.split(" ")) - 1]
    assert synthesized[0].t_first_chunk < end_of_first  # spoken before the sentence was written
    assert [e.sentences for e in events.of(SpeechFinished)] == [2]
    rendered = sink.rendered()
    assert rendered.sample_rate == 24_000 and rendered.seconds > 1.0 and np.isfinite(rendered.pcm).all()
