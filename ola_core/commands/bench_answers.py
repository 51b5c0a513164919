"""`ola-assistant bench speech --answers N`: whole answers spoken through the real speaker path.

What the user hears is not what a voice's first-chunk time says: it also depends on the sentence
splitter, on the synthesis thread staying ahead of the player and on the player's buffering. So
this runs N answers, their text paced like a model streaming tokens (``tokens_per_s``), through
the real :class:`~ola_core.speech.pipeline.SpeechPipeline` and
:class:`~ola_core.speech.player.AudioPlayer` (on the default output: the virtual speaker of
``scripts/start_virtual_audio.sh`` in tests) and reports, from the played timeline:

* underruns: blocks where the player's queue ran dry inside an answer, the silence that put into
  the answer (exact, counted in samples), and the device's own output-underflow flags (xruns);
* gaps: silence between two sentences beyond the voice's own audio (its trailing pause is part
  of that audio), from SentenceStarted times (DAC clock) and the synthesized durations: a few ms
  of clock jitter either way, more on a loaded CPU (the starved silence is the exact figure);
* first clause → first audio: from the sentence's SentenceQueued (a streamed sentence: when its
  stream opened) to its first sample at the DAC; and first token → first audio.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ola_core.speech.pipeline import SpeechEvent
    from ola_core.speech.synthesizer import Synthesizer

# Answers in the shape of the model's: a short opener, then sentences of everyday length.
ANSWERS: tuple[str, ...] = (
    "Sure. The red mug on your desk is half full, and the laptop next to it is open on a "
    "spreadsheet. The window behind you lets in a lot of light, so the screen may be hard to read.",
    "I can see a small plant, a notebook with a blue cover and two pens. The notebook is open at a "
    "page with a hand-drawn diagram. It looks like a plan for a garden, with the beds marked in red.",
    "Good question! The meeting with Dr. Smith starts at five in the afternoon. You have about "
    "forty minutes left, which is enough to finish the slides. Do you want me to read them aloud?",
    "The error says that a module is missing. Install the package with pip, then run the script "
    "again. If it still fails, check that the virtual environment is active in this terminal.",
    "Here is a short summary. The report covers three quarters of sales, and each one grew a "
    "little. The best month was June, when a new shop opened in the city centre.",
)


def run_answers(
    synthesizer: Synthesizer,
    tokens: Callable[[str], list[str]],
    answers: int = 20,
    tokens_per_s: float = 25.0,
    voice: str | None = None,
) -> dict[str, Any]:
    """Speak ``answers`` answers (cycling :data:`ANSWERS`, cut into deltas by ``tokens``: the
    ``bench speech`` topic's token_stream) and measure them; see the module doc."""
    from ola_core.speech.pipeline import SentenceQueued, SentenceStarted, SentenceSynthesized, SpeechPipeline
    from ola_core.speech.player import AudioPlayer

    events: list[SpeechEvent] = []
    lock = threading.Lock()

    def collect(event: SpeechEvent) -> None:
        with lock:
            events.append(event)

    player = AudioPlayer()
    pipeline = SpeechPipeline(synthesizer, player, voice=voice, on_event=collect, first_chunk_timeout=60.0)
    gaps: list[float] = []
    first_clause: list[float] = []
    first_token: list[float] = []
    underruns: list[int] = []
    xruns: list[int] = []
    starved: list[float] = []
    audio_s = 0.0
    try:
        synthesizer.warm_up()
        for turn in range(answers):
            with lock:
                events.clear()
            before = (player.underruns, player.output_underflows, player.starved_seconds)
            pipeline.begin(turn)
            t_first_token = time.monotonic()
            for i, delta in enumerate(tokens(ANSWERS[turn % len(ANSWERS)])):
                time.sleep(max(0.0, t_first_token + i / tokens_per_s - time.monotonic()))
                pipeline.feed(delta)
            pipeline.finish()
            if not pipeline.wait(120.0):
                raise TimeoutError(f"answer {turn} was not spoken within 120 s")
            underruns.append(player.underruns - before[0])
            xruns.append(player.output_underflows - before[1])
            starved.append(player.starved_seconds - before[2])
            with lock:
                queued = {e.index: e.t for e in events if isinstance(e, SentenceQueued)}
                started = {e.index: e.t for e in events if isinstance(e, SentenceStarted)}
                seconds = {e.index: e.audio_seconds for e in events if isinstance(e, SentenceSynthesized)}
            audio_s += sum(seconds.values())
            if 0 in started:
                first_clause.append(started[0] - queued[0])
                first_token.append(started[0] - t_first_token)
            gaps += [
                started[i + 1] - started[i] - seconds[i]
                for i in sorted(started)
                if i + 1 in started and i in seconds
            ]
    finally:
        pipeline.close()
    return {
        "synthesizer": synthesizer.name,
        "answers": answers,
        "tokens_per_s": tokens_per_s,
        "audio_s": round(audio_s, 1),
        "underruns": sum(underruns),
        "answers_with_underruns": sum(1 for n in underruns if n),
        "starved_ms_total": _ms(sum(starved)),
        "starved_ms_max_answer": _ms(max(starved, default=0.0)),
        "output_underflows": sum(xruns),
        "gaps": len(gaps),
        "gap_ms_p50": _ms(statistics.median(gaps)) if gaps else None,
        "gap_ms_max": _ms(max(gaps)) if gaps else None,
        "gaps_over_20ms": sum(1 for g in gaps if g > 0.02),
        "first_clause_to_audio_ms_p50": _ms(statistics.median(first_clause)) if first_clause else None,
        "first_clause_to_audio_ms_max": _ms(max(first_clause)) if first_clause else None,
        "first_token_to_audio_ms_p50": _ms(statistics.median(first_token)) if first_token else None,
    }


def _ms(seconds: float) -> float:
    return round(1000 * seconds, 1)
