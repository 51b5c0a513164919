"""Mouth-to-ear latency of the assistant, stage by stage, from the TurnTrace of real turns.

    python benchmarks/bench_latency.py [--turns 10] [--silence-ms 500] [--json out.json]

A spoken question (espeak-ng) is replayed through the real endpointer at real pace; the tiny
random Ola checkpoint (written here, fp32, CPU) answers with a few tokens; the offline espeak-ng
voice speaks them through the real AudioPlayer on the default output (the virtual PulseAudio
speaker of scripts/start_virtual_audio.sh; without a sound server the answer is only recorded).

Mouth-to-ear = last voiced frame → first answer sample at the speaker. It splits into

* silence       the end-of-turn silence setting (what the user chose to wait),
* endpointer    decision after last voiced frame, beyond the silence setting,
* dispatch      endpoint decided → the assistant thread starts the turn,
* model         turn start → first sentence released (encoders, prefill, decoding to a sentence end),
* synthesis     first sentence → its first audio chunk,
* player        first audio chunk → first sample at the DAC, minus the device latency,
* device        the output stream's own latency as PortAudio reports it (sound server + hardware);

the pipeline overhead is endpointer + dispatch + player: everything that is neither the user's
silence setting, nor model/voice compute, nor the sound device.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ola_core.assistant.components import Components  # noqa: E402
from ola_core.assistant.headless import HeadlessSession  # noqa: E402
from ola_core.assistant.speech_out import SpeechOutput  # noqa: E402
from ola_core.capture.devices import pulse_running  # noqa: E402
from ola_core.engine import OlaEngine  # noqa: E402
from ola_core.model.loading import load_ola  # noqa: E402
from ola_core.model.tiny import write_tiny_checkpoint  # noqa: E402
from ola_core.processing.audio import load_audio  # noqa: E402
from ola_core.settings import AudioSettings, GenerationPreferences, ModelSettings, Settings, VoiceSettings  # noqa: E402
from ola_core.speech.espeak_voice import EspeakSynthesizer  # noqa: E402
from ola_core.trace import TurnTrace  # noqa: E402

STAGES = ("endpointer", "dispatch", "model", "synthesis", "player", "device", "overhead", "mouth_to_ear")


def stages(trace: TurnTrace, silence_s: float, device_s: float) -> dict[str, float]:
    """The breakdown of the module docstring, in seconds."""
    t = trace
    assert t.t_last_voiced is not None and t.t_endpoint is not None and t.t_turn_start is not None
    assert t.t_first_sentence is not None and t.t_first_audio is not None and t.t_first_played is not None
    parts = {
        # beyond the wait the endpointer chose (adaptive endpointing moves it per utterance)
        "endpointer": t.t_endpoint - t.t_last_voiced - (t.endpoint_wait_ms or silence_s * 1000) / 1000,
        "dispatch": t.t_turn_start - t.t_endpoint,
        "model": t.t_first_sentence - t.t_turn_start,
        "synthesis": t.t_first_audio - t.t_first_sentence,
        "player": t.t_first_played - t.t_first_audio - device_s,
        "device": device_s,
        "mouth_to_ear": t.t_first_played - t.t_last_voiced,
    }
    parts["overhead"] = parts["endpointer"] + parts["dispatch"] + parts["player"]
    return parts


def barge_ins(session: HeadlessSession, count: int, synth: EspeakSynthesizer) -> list[float]:
    """Talk over ``count`` long answers; the cancel latency of each interrupted turn (seconds)."""
    from ola_core.assistant.audio_in import ReplayInput
    from ola_core.events import StateChanged, TurnFinished

    assert isinstance(session.input, ReplayInput)
    interruption = load_audio(
        np.concatenate(list(synth.synthesize("Stop, another question."))), synth.sample_rate
    )
    long_answers = dataclasses.replace(session.settings.generation, max_new_tokens=40)
    session.assistant.apply_settings(dataclasses.replace(session.settings, generation=long_answers))
    latencies = []
    for _ in range(count):
        session.assistant.reset()
        start = session.mark()
        session.assistant.send_text("hello there")
        if (
            session.wait_for(lambda e: isinstance(e, StateChanged) and e.state == "speaking", 60, after=start)
            is None
        ):
            continue
        session.input.say(interruption)
        done = session.wait_for(lambda e: isinstance(e, TurnFinished), 30, after=start)
        if (
            isinstance(done, TurnFinished)
            and done.outcome == "barge_in"
            and done.trace.cancel_latency_s is not None
        ):
            latencies.append(done.trace.cancel_latency_s)
        session.wait_for(
            lambda e: isinstance(e, TurnFinished), 30, after=session.mark()
        )  # the interruption's turn
        session.assistant.wait_idle(30)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--silence-ms", type=int, default=500)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--barge-ins", type=int, default=5, help="interruptions to time after the turns")
    parser.add_argument("--no-device", action="store_true", help="record the answer instead of playing it")
    parser.add_argument("--json", type=Path, help="also write every turn's trace and breakdown here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    tiny = write_tiny_checkpoint(work)
    loaded = load_ola(tiny.model_dir, device="cpu", dtype=torch.float32)
    synth = EspeakSynthesizer()
    question = load_audio(
        np.concatenate(list(synth.synthesize("What is on my desk right now?"))), synth.sample_rate
    )
    play = pulse_running() and not args.no_device
    settings = Settings(
        model=ModelSettings(model_dir=str(tiny.model_dir), quantization="none", device="cpu"),
        audio=AudioSettings(end_of_turn_silence_ms=args.silence_ms),
        voice=VoiceSettings(voice="espeak-ng"),
        generation=GenerationPreferences(max_new_tokens=args.max_new_tokens, temperature=0.0),
    )
    speech = SpeechOutput.from_settings(settings, wav_path=None if play else work / "answer.wav", play=play)
    session = HeadlessSession(
        settings, components=Components(OlaEngine.from_loaded(loaded, model_dir=tiny.model_dir), speech)
    )
    session.start(timeout=120)
    rows: list[dict[str, float]] = []
    traces: list[dict[str, object]] = []
    try:
        session.ask_spoken(question, timeout=120)  # warm-up turn, not counted
        for _ in range(args.turns):
            session.assistant.reset()  # every turn a fresh conversation: same prompt length
            finished = session.ask_spoken(question, timeout=120)
            if finished is None or finished.outcome != "completed":
                print("turn failed:", finished, session.errors[-1:], file=sys.stderr)
                continue
            rows.append(stages(finished.trace, args.silence_ms / 1000, speech.output_latency))
            traces.append(finished.trace.to_dict())
        cancels = barge_ins(session, args.barge_ins, synth)
    finally:
        session.close()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; output: {'virtual speaker (PulseAudio)' if play else 'recorded only'}"
    )
    print(f"{len(rows)} turns, silence setting {args.silence_ms} ms, tiny model fp32 CPU, espeak-ng voice")
    print(f"{'stage':<14}{'p50 ms':>10}{'p90 ms':>10}{'max ms':>10}")
    for name in STAGES if rows else ():
        values = sorted(row[name] * 1000 for row in rows)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        print(f"{name:<14}{statistics.median(values):>10.1f}{p90:>10.1f}{values[-1]:>10.1f}")
    if cancels:
        values = sorted(c * 1000 for c in cancels)
        print(
            f"barge-in: sustained speech detected → generation, synthesis and playback stopped "
            f"(trace t_cancel_requested → t_cancel_done), {len(values)} runs: "
            f"p50 {statistics.median(values):.1f} ms, max {values[-1]:.1f} ms"
        )
    if args.json is not None:
        args.json.write_text(
            json.dumps({"settings": dataclasses.asdict(settings), "turns": traces, "stages": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
