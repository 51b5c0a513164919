"""Adaptive endpointing: what the end-of-turn rule costs and what it decides on synthetic speech.

    python benchmarks/endpointing.py [--runs 300]

1. cost: :func:`~ola_core.capture.turn_end.ending_cues` (YIN pitch track + rule) on the last
   0.5 s of a spoken sentence, as the endpointer runs it once per pause on the mic-worker thread;
   and the endpointer's whole feed time per 20 ms block, fixed wait vs adaptive;
2. decisions: sentences of four kinds (statements, yes/no questions, unfinished clauses,
   fillers) spoken by espeak-ng and by hibari (the default neural English voice, when installed),
   each fed to the endpointer with the app's default 700 ms setting: the ending class it heard
   and the wait it chose. TTS prosody is not a person's: hibari reads every fragment as a whole
   sentence (falling), espeak barely moves its pitch; the table shows what the rule does with
   them, not how often it is right with people.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ola_core.capture.events import SpeechEnded  # noqa: E402
from ola_core.capture.pcm import SAMPLE_RATE, to_int16  # noqa: E402
from ola_core.capture.turn_end import ending_cues, track_pitch  # noqa: E402
from ola_core.capture.vad import Endpointer, EndpointerConfig  # noqa: E402
from tests.capture.signals import SENTENCES, espeak, scene  # noqa: E402

KINDS = {
    "statement": ["Turn off the lights.", "That looks good to me.", "Show me the weather for tomorrow."],
    "question": ["Is it raining?", "Can you help me with this?", "Do you know where my keys are?"],
    "unfinished": ["I went to the shop and", "So I was thinking that", "If you look at the left side,"],
    "filler": ["Let me see, ummm", "So the, uh", "Hmmm"],
}


def timed_ms(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median and 95th percentile of ``fn()``'s wall time in ms."""
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def cost(runs: int) -> None:
    tail = to_int16(espeak(SENTENCES[1]))
    tail = tail[np.flatnonzero(np.abs(tail) > 300)[-1] - SAMPLE_RATE // 2 :][: SAMPLE_RATE // 2]
    for name, fn in [("track_pitch", track_pitch), ("ending_cues", ending_cues)]:
        med, p95 = timed_ms(lambda fn=fn: fn(tail), runs)
        print(f"{name} on 0.5 s: median {med:.2f} ms, p95 {p95:.2f} ms")
    sc = scene([1.0, SENTENCES[0], 1.5, SENTENCES[1], 1.5] * 3, seed=3)
    blocks = [sc.pcm[i : i + 320] for i in range(0, len(sc.pcm), 320)]
    for adaptive in (False, True):

        def feed(adaptive: bool = adaptive) -> None:
            ep = Endpointer(EndpointerConfig(adaptive=adaptive))
            for block in blocks:
                ep.feed(block)

        med, _ = timed_ms(feed, max(3, runs // 50))
        print(
            f"endpointer, {'adaptive' if adaptive else 'fixed   '}: {med / len(blocks) * 1000:.0f} µs "
            f"per 20 ms block ({len(sc.pcm) / SAMPLE_RATE:.0f} s of speech and pauses in {med:.0f} ms)"
        )


def voices() -> dict[str, object]:
    """name → function(text) → float32 16 kHz audio."""
    out: dict[str, object] = {"espeak-ng": espeak}
    from ola_core.speech.hibari_voice import HibariSynthesizer

    if HibariSynthesizer.unavailable_reason() is None:
        import soxr

        hibari = HibariSynthesizer()

        def say(text: str) -> np.ndarray:
            audio = np.concatenate(list(hibari.synthesize(text)))
            audio = soxr.resample(audio, hibari.sample_rate, SAMPLE_RATE).astype(np.float32)
            return 0.5 * audio / np.max(np.abs(audio))

        out["hibari"] = say
    return out


def decisions() -> None:
    cfg = EndpointerConfig(end_silence_ms=700)
    print(f"\n{'voice':10s} {'kind':11s} {'class':8s} {'change':>7s} {'wait':>6s}  text")
    for voice, say in voices().items():
        for kind, texts in KINDS.items():
            for text in texts:
                audio = say(text)  # type: ignore[operator]
                pcm = to_int16(np.concatenate([np.zeros(SAMPLE_RATE), audio, np.zeros(3 * SAMPLE_RATE)]))
                pcm = pcm + np.random.default_rng(0).normal(0, 10, len(pcm)).astype(
                    np.int16
                )  # -70 dBFS floor
                ep = Endpointer(cfg)
                ends = [e for e in ep.feed(pcm) + ep.flush() if isinstance(e, SpeechEnded)]
                end = ends[-1]
                voiced_end = pcm[: round(end.t_last_voiced * SAMPLE_RATE)]
                cues = ending_cues(voiced_end)
                print(
                    f"{voice:10s} {kind:11s} {cues.ending:8s} {cues.pitch_change_st:+6.1f}st "
                    f"{end.wait_ms:5.0f}ms  {text}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    cost(args.runs)
    decisions()


if __name__ == "__main__":
    main()
