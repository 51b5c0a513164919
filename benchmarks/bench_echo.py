"""Echo cancellers compared on our own voice looped back: echo return loss enhancement (ERLE).

    python benchmarks/bench_echo.py            # candidates that are installed (livekit is a dependency;
                                               # pip install pyaec into a scratch venv to compare it)

The far end is the assistant's voice (espeak-ng, ~20 s); the microphone hears it through

* "digital": a pure 30 ms delay at unity gain (the virtual PulseAudio loopback of the tests),
* "room": 40 ms delay, an exponentially decaying random impulse response (RT60 0.25 s), −6 dB,
  and a −60 dBFS noise floor.

ERLE = mic energy / cleaned energy over the second half (after convergence). "kept" is how much
of a second talker, mixed in over the last quarter at −6 dB, survives the canceller (0 dB = all):
a canceller that also removes the person who wants to barge in is useless.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ola_core.processing.audio import load_audio
from ola_core.speech.espeak_voice import EspeakSynthesizer

FRAME = 160  # 10 ms at 16 kHz


def _voice(text: str, voice: str | None = None) -> np.ndarray:
    synth = EspeakSynthesizer()
    return load_audio(np.concatenate(list(synth.synthesize(text, voice))), synth.sample_rate)


def _echo_path(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "digital":
        return np.concatenate([np.zeros(480, np.float32), x])[: len(x)]
    n = 4000
    t = np.arange(n) / 16000
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / 0.25)
    rir[0] = 3.0
    rir /= np.abs(rir).sum() / 2
    y = np.convolve(x, rir)[: len(x)] * 0.5
    y = np.concatenate([np.zeros(640, np.float32), y])[: len(x)]
    return (y + 1e-3 * rng.standard_normal(len(y))).astype(np.float32)


def _i16(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 32767, -32768, 32767).astype(np.int16)


def _livekit() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from livekit import rtc

    def run(near: np.ndarray, far: np.ndarray) -> np.ndarray:
        apm = rtc.AudioProcessingModule(echo_cancellation=True, noise_suppression=True, high_pass_filter=True)
        out = []
        for i in range(0, len(near) - FRAME + 1, FRAME):
            apm.process_reverse_stream(rtc.AudioFrame(_i16(far[i : i + FRAME]).tobytes(), 16000, 1, FRAME))
            frame = rtc.AudioFrame(_i16(near[i : i + FRAME]).tobytes(), 16000, 1, FRAME)
            apm.process_stream(frame)
            out.append(np.frombuffer(bytes(frame.data), np.int16))
        return np.concatenate(out).astype(np.float32) / 32768

    return run


def _pyaec() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from pyaec import Aec

    def run(near: np.ndarray, far: np.ndarray) -> np.ndarray:
        aec = Aec(FRAME, 1600, 16000, True)
        out = [
            np.array(
                aec.cancel_echo(_i16(near[i : i + FRAME]).tolist(), _i16(far[i : i + FRAME]).tolist()),
                np.int16,
            )
            for i in range(0, len(near) - FRAME + 1, FRAME)
        ]
        return np.concatenate(out).astype(np.float32) / 32768

    return run


def main() -> int:
    far = _voice(
        "Hello, I am your local assistant. The weather today looks fine, and I can see a cup on your desk."
    )
    far = np.concatenate([far, far])
    second = _voice("Wait, stop, I have another question about the picture on the screen.", "en+f3")
    candidates: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {}
    for name, make in (("livekit (WebRTC AEC3)", _livekit), ("pyaec (speex)", _pyaec)):
        try:
            candidates[name] = make()
        except ImportError as error:
            print(f"{name}: not installed ({error})")
    print(f"{'echo path':<9} {'canceller':<22} {'ERLE dB':>8} {'kept dB':>8} {'ms CPU / s':>11}")
    for kind in ("digital", "room"):
        near = _echo_path(far, kind, np.random.default_rng(0))
        mix = near.copy()
        s0 = len(mix) * 3 // 4
        talker = 0.5 * second[: len(mix) - s0]
        mix[s0 : s0 + len(talker)] += talker
        for name, run in candidates.items():
            t0 = time.process_time()
            out = run(near, far)
            cpu = (time.process_time() - t0) / (len(far) / 16000) * 1000
            half = len(out) // 2
            erle = 10 * np.log10(np.mean(near[half : len(out)] ** 2) / max(np.mean(out[half:] ** 2), 1e-12))
            out2 = run(mix, far)
            seg = slice(s0, min(s0 + len(talker), len(out2)))
            kept = 10 * np.log10(np.mean(out2[seg] ** 2) / np.mean(talker[: seg.stop - s0] ** 2))
            print(f"{kind:<9} {name:<22} {erle:>8.1f} {kept:>+8.1f} {cpu:>11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
