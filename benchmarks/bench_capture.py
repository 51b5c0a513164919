"""CPU cost of the capture pipeline and the endpoint decision delay.

    python benchmarks/bench_capture.py [--seconds 20]

Runs, each for ``--seconds`` of wall time, in this process, and reports process CPU time as a
percentage of one core:

1. microphone + endpointer: MicStream on the default input (the virtual PulseAudio mic of
   scripts/start_virtual_audio.sh, with speech played into it in a loop by paplay), every block
   fed to the Endpointer;
2. camera: CameraSource on a 1280×720 30 fps mp4v file (generated here), paced at 30 fps,
   RGB conversion, history sampled at 2 fps;
3. both together (the whole capture pipeline while the assistant listens).

Then the endpoint decision delay: how long after the last voiced frame the SpeechEnded event
is decided on the PCM clock (replayed speech, deterministic) and delivered in wall time (live
mic). Needs the virtual audio daemon for the mic parts; without it they are skipped.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ola_core.capture.camera import CameraSource  # noqa: E402
from ola_core.capture.devices import pulse_running  # noqa: E402
from ola_core.capture.events import SpeechEnded  # noqa: E402
from ola_core.capture.mic import MicStream  # noqa: E402
from ola_core.capture.pcm import SAMPLE_RATE  # noqa: E402
from ola_core.capture.vad import Endpointer, EndpointerConfig  # noqa: E402
from tests.capture.signals import SENTENCES, espeak, scene  # noqa: E402


def make_video(path: Path, seconds: float = 4.0, size: tuple[int, int] = (1280, 720), fps: int = 30) -> Path:
    """A 720p clip with moving content (a gradient sliding under a moving box and text)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    xs = np.linspace(0, 255, w, dtype=np.float32)
    for i in range(int(seconds * fps)):
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = ((xs + 4 * i) % 256).astype(np.uint8)[None, :, None]
        x = (20 * i) % (w - 200)
        cv2.rectangle(frame, (x, 200), (x + 200, 400), (0, 0, 255), -1)
        cv2.putText(frame, f"frame {i}", (50, 100), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        writer.write(frame)
    writer.release()
    return path


class SpeechLoop:
    """paplay speech into the virtual mic sink again and again, with pauses, from a shell loop.

    A separate process that is only reaped at the end, so its CPU time never counts as ours,
    while the ``pactl`` calls the MicStream makes (reaped at once) do.
    """

    def __init__(self, wav: Path) -> None:
        self.wav = wav
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SpeechLoop:
        loop = f"while true; do paplay -d micfeed '{self.wav}'; sleep 1; done"
        self._proc = subprocess.Popen(["sh", "-c", loop], start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        os.killpg(self._proc.pid, signal.SIGTERM)
        self._proc.wait()


def cpu_percent(seconds: float) -> float:
    """CPU time of this process and its reaped children over ``seconds`` of wall time, % of one core."""

    def used() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    c0, t0 = used(), time.monotonic()
    time.sleep(seconds)
    return 100 * (used() - c0) / (time.monotonic() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    audio = pulse_running()
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "720p.mp4")
        wav = Path(tmp) / "speech.wav"
        soundfile.write(
            wav, np.concatenate([espeak(SENTENCES[0]), np.zeros(SAMPLE_RATE, np.float32)]), SAMPLE_RATE
        )

        results["idle process"] = f"{cpu_percent(3.0):.1f} %"
        live_delays: list[float] = []

        def on_event(event: object) -> None:
            if isinstance(event, SpeechEnded):
                live_delays.append(time.monotonic() - event.t_last_voiced)

        if audio:
            endpointer = Endpointer(on_event=on_event)
            with SpeechLoop(wav), MicStream(on_block=endpointer.feed):
                time.sleep(1.0)
                results["mic + VAD"] = f"{cpu_percent(args.seconds):.1f} %"
        camera = CameraSource(video, sample_fps=2.0, history_s=30.0)
        with camera:
            time.sleep(1.0)
            n0 = camera.frame_count
            t0 = time.monotonic()
            results["camera 720p30 file + 2 fps sampling"] = f"{cpu_percent(args.seconds):.1f} %"
            fps = (camera.frame_count - n0) / (time.monotonic() - t0)
            results["camera frames delivered"] = f"{fps:.1f} fps"
            if audio:
                endpointer = Endpointer(on_event=on_event)
                with SpeechLoop(wav), MicStream(on_block=endpointer.feed):
                    time.sleep(1.0)
                    results["mic + VAD + camera (whole pipeline)"] = f"{cpu_percent(args.seconds):.1f} %"

    # Endpoint decision delay on the PCM clock: replayed speech, 20 ms blocks as from a mic.
    decided = []
    for snr in (None, 20.0, 10.0):
        sc = scene([1.0, SENTENCES[0], 1.5, SENTENCES[1], 1.5], snr_db=snr)
        ep = Endpointer(EndpointerConfig(adaptive=False))
        for i in range(0, len(sc.pcm), 320):
            for e in ep.feed(sc.pcm[i : i + 320]):
                if isinstance(e, SpeechEnded):
                    decided.append(e.t_endpoint - e.t_last_voiced)
    results["endpoint decided after last voiced frame (PCM clock, setting 600 ms)"] = (
        f"{1000 * min(decided):.0f}–{1000 * max(decided):.0f} ms over {len(decided)} turns"
    )
    if live_delays:
        results["SpeechEnded delivered after last voiced frame (live mic, wall clock)"] = (
            f"median {1000 * float(np.median(live_delays)):.0f} ms, max {1000 * max(live_delays):.0f} ms "
            f"over {len(live_delays)} turns"
        )
    if not audio:
        print("note: no PulseAudio daemon: microphone parts skipped (source scripts/start_virtual_audio.sh)")
    for name, value in results.items():
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
