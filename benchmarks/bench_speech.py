"""Speech output speed: voices, splitter, and the live path to the speaker.

    python benchmarks/bench_speech.py [--repeats 5]

1. ``ola-assistant bench speech`` figures (per voice: warm-up, first-chunk latency, RTF; the
   splitter's time per delta and look-ahead), printed as JSON.
2. With the virtual PulseAudio speaker (scripts/start_virtual_audio.sh): the first-audio latency
   of the whole pipeline — the benchmark answer streamed at 25 tokens/s into a SpeechPipeline
   with the automatic voice, from the first delta to the first sample at the DAC (player clock);
   and stop() latency: how long sound continues after ``stop()``, measured on a recording of the
   speaker's monitor (``parecord``) against the player's own start timestamp.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ola_core.commands.bench_speech import run_benchmark, token_stream  # noqa: E402
from ola_core.speech.pipeline import SentenceStarted, SpeechEvent, SpeechPipeline  # noqa: E402
from ola_core.speech.player import AudioPlayer, ChunkStarted, PlayerEvent  # noqa: E402
from ola_core.speech.selection import select_synthesizer  # noqa: E402

TOKENS_PER_S = 25.0


def pulse_running() -> bool:
    return (
        bool(shutil.which("pactl")) and subprocess.run(["pactl", "info"], capture_output=True).returncode == 0
    )


def first_audio_latency(repeats: int) -> dict[str, Any]:
    synth = select_synthesizer("auto")
    synth.warm_up()
    latencies = []
    for _ in range(repeats):
        started = threading.Event()
        first: list[float] = []

        def on_event(
            event: SpeechEvent, first: list[float] = first, started: threading.Event = started
        ) -> None:
            if isinstance(event, SentenceStarted) and not first:
                first.append(event.t)
                started.set()

        pipeline = SpeechPipeline(synth, AudioPlayer(), on_event=on_event)
        pipeline.player.open()  # type: ignore[union-attr]  # device opening is not part of a turn
        t0 = time.monotonic()
        for delta in token_stream():
            pipeline.feed(delta)
            if started.is_set():
                break
            time.sleep(1 / TOKENS_PER_S)
        started.wait(10)
        latencies.append(first[0] - t0)
        pipeline.close()
    return {
        "voice": synth.name,
        "tokens_per_s": TOKENS_PER_S,
        "first_delta_to_first_sample_ms_median": round(1000 * statistics.median(latencies), 1),
        "runs_ms": [round(1000 * x, 1) for x in latencies],
    }


def stop_latency(repeats: int) -> dict[str, Any]:
    rate = 24_000
    tone = (0.5 * np.sin(2 * np.pi * 660 * np.arange(2 * rate) / rate)).astype(np.float32)
    results, calls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            events: list[PlayerEvent] = []
            path = Path(tmp) / f"rec{i}.wav"
            with AudioPlayer(on_event=events.append) as player:
                player.open()
                recorder = subprocess.Popen(
                    [
                        "parecord",
                        "-d",
                        "speaker.monitor",
                        "--rate=48000",
                        "--channels=1",
                        "--format=float32le",
                        "--file-format=wav",
                        "--latency-msec=10",
                        str(path),
                    ],
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(0.4)
                player.play(tone, rate, marker="tone")
                time.sleep(0.6)
                t_stop = time.monotonic()
                player.stop()
                calls.append(time.monotonic() - t_stop)
                time.sleep(0.4)
                recorder.terminate()
                recorder.wait()
            started = next(e.t for e in events if isinstance(e, ChunkStarted))
            pcm, _ = soundfile.read(str(path), dtype="float32")
            loud = np.flatnonzero(np.abs(pcm) > 0.02)
            heard = (loud[-1] - loud[0]) / 48_000
            results.append(heard - (t_stop - started))
    return {
        "stop_call_ms_median": round(1000 * statistics.median(calls), 2),
        "sound_after_stop_ms_median": round(1000 * statistics.median(results), 1),
        "sound_after_stop_ms_runs": [round(1000 * x, 1) for x in results],
        "note": "relative to the player's own start timestamp, whose error vs the monitor is ~±10-30 ms",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    report: dict[str, Any] = {"bench_speech": run_benchmark()}
    if pulse_running():
        report["pipeline_first_audio"] = first_audio_latency(args.repeats)
        if shutil.which("parecord"):
            report["player_stop"] = stop_latency(args.repeats)
    else:
        report["live"] = "skipped: no PulseAudio daemon (source scripts/start_virtual_audio.sh)"
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
