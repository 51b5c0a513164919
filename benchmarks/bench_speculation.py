"""Speculative turn start on the CPU: does it pay, and does it ever change an answer?

    python benchmarks/bench_speculation.py [--replays 50] [--json out.json]

Spoken questions (espeak-ng) are replayed through the real endpointer at real pace into the
whole assistant (the tiny random Ola checkpoint, fp32 on the CPU, answers greedily; no voice).
Each question has a 300 ms pause inside it (speech, silence, more speech), so every turn drops a
speculation at the inner pause and confirms one at the end. The same questions are replayed with
speculation off, in conversations of five turns (the KV cache carries from turn to turn, so a
guess that leaked into the cache would change the later answers too).

Reported, from the turns' traces:
* identical: the answer token ids with speculation on and off, turn by turn;
* with the endpoint wait at 600 ms (the pause before the endpoint is 400 ms beyond the 200 ms
  speculation): how often encoders and prefill were done before the endpoint, and
  endpoint → first token against one decoding step (1 / decode rate) + 20 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ola_core.assistant.components import Components  # noqa: E402
from ola_core.assistant.headless import HeadlessSession  # noqa: E402
from ola_core.engine import OlaEngine  # noqa: E402
from ola_core.events import TurnFinished  # noqa: E402
from ola_core.model.loading import LoadedOla, load_ola  # noqa: E402
from ola_core.model.tiny import write_tiny_checkpoint  # noqa: E402
from ola_core.processing.audio import load_audio  # noqa: E402
from ola_core.settings import (  # noqa: E402
    AudioSettings,
    GenerationPreferences,
    ModelSettings,
    Settings,
    VoiceSettings,
)
from ola_core.speech.espeak_voice import EspeakSynthesizer  # noqa: E402

TURNS_PER_CONVERSATION = 5
PHRASES = [
    ("What is on", "my desk?"),
    ("Tell me", "what you see."),
    ("Can you read", "this page for me?"),
    ("How many people", "are in the room?"),
    ("Describe the picture", "in one sentence."),
]


def speak(text: str) -> np.ndarray:
    """``text`` by espeak-ng at 16 kHz, without the third of a second of silence it appends."""
    synth = EspeakSynthesizer()
    pcm = load_audio(np.concatenate(list(synth.synthesize(text))), synth.sample_rate)
    return pcm[: np.nonzero(np.abs(pcm) > 0.01)[0][-1] + 1]


def questions(n: int) -> list[np.ndarray]:
    """``n`` questions, each two phrases with a 300 ms pause between them."""
    spoken = [(speak(a), speak(b)) for a, b in PHRASES]
    pause = np.zeros(int(16000 * 0.3), np.float32)
    return [np.concatenate([spoken[i % len(spoken)][0], pause, spoken[i % len(spoken)][1]]) for i in range(n)]


def run(
    loaded: LoadedOla, model_dir: Path, speculation_ms: int, clips: list[np.ndarray]
) -> list[dict[str, Any]]:
    settings = Settings(
        model=ModelSettings(model_dir=str(model_dir), quantization="none", device="cpu"),
        audio=AudioSettings(
            end_of_turn_silence_ms=600, adaptive_endpointing=False, speculation_ms=speculation_ms
        ),
        generation=GenerationPreferences(max_new_tokens=16, temperature=0.0),
        voice=VoiceSettings(speak_answers=False),
    )
    rows: list[dict[str, Any]] = []
    for start in range(0, len(clips), TURNS_PER_CONVERSATION):
        engine = OlaEngine.from_loaded(loaded, model_dir=model_dir)
        session = HeadlessSession(settings, components=Components(engine, None))
        session.start(timeout=120)
        try:
            for clip in clips[start : start + TURNS_PER_CONVERSATION]:
                finished = session.ask_spoken(clip, timeout=120)
                assert isinstance(finished, TurnFinished) and finished.outcome == "completed", finished
                stats = engine.last_stats
                assert stats is not None
                rows.append({"ids": list(stats.token_ids), "trace": finished.trace.to_dict()})
        finally:
            session.close()
    return rows


def summarise(on: list[dict[str, Any]], off: list[dict[str, Any]]) -> dict[str, Any]:
    same = sum(a["ids"] == b["ids"] for a, b in zip(on, off, strict=True))
    traces = [row["trace"] for row in on]
    used = [t for t in traces if t["speculation"] == "used"]
    before = [t for t in used if t["t_prefill_done"] <= t["t_endpoint"]]
    gaps_ms, steps_ms, within = [], [], 0
    for t in used:
        gap = (t["t_first_token"] - t["t_endpoint"]) * 1000
        step = 1000 / t["tokens_per_s"] if t["tokens_per_s"] else float("nan")
        gaps_ms.append(gap)
        steps_ms.append(step)
        within += gap <= step + 20
    off_gaps = [(r["trace"]["t_first_token"] - r["trace"]["t_endpoint"]) * 1000 for r in off]
    return {
        "replays": len(on),
        "identical_ids": same,
        "speculation_used": len(used),
        "dropped_total": sum(t["speculations_dropped"] for t in traces),
        "prefill_before_endpoint": len(before),
        "endpoint_to_first_token_ms_p50": statistics.median(gaps_ms) if gaps_ms else None,
        "endpoint_to_first_token_ms_max": max(gaps_ms) if gaps_ms else None,
        "decode_step_ms_p50": statistics.median(steps_ms) if steps_ms else None,
        "within_one_step_plus_20ms": within,
        "speculation_off_endpoint_to_first_token_ms_p50": statistics.median(off_gaps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replays", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        tiny = write_tiny_checkpoint(Path(tmp), seed=0)
        loaded = load_ola(tiny.model_dir, device="cpu", dtype=torch.float32)
        clips = questions(args.replays)
        on = run(loaded, tiny.model_dir, 200, clips)
        off = run(loaded, tiny.model_dir, 0, clips)
    result = {"machine": platform.processor() or platform.machine(), **summarise(on, off)}
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": result, "on": on, "off": off}, indent=2) + "\n")


if __name__ == "__main__":
    main()
