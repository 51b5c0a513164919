"""CPU time of media preprocessing: how much of a turn's latency goes before the encoders run.

    python benchmarks/bench_processing.py [--repeat 3]

Cases (inputs generated here, deterministic):

1. images: a 1920×1080 screenshot and a 4032×3024 photo (JPEG) → two views;
2. live frames: 8 camera frames of 1280×720 → VideoInput (the default camera budget);
3. a video file: 20 s of 1280×720 H.264 at 30 fps with AAC sound → 64 frames + soundtrack;
4. audio: 10 s of speech-like sound from the mic (16 kHz array), a 5-minute 44.1 kHz WAV file.

Reports the median wall time of ``--repeat`` runs per case (after one warm-up run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import soundfile
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ola_core.processing.audio import process_audio, speech_features  # noqa: E402
from ola_core.processing.image import process_image  # noqa: E402
from ola_core.processing.video import process_frames, process_video  # noqa: E402
from tests.processing.media_gen import audio_samples, rgb_pattern  # noqa: E402


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    run()  # warm-up: imports, caches, first-touch allocations
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_video(path: Path, seconds: int, fps: int, width: int, height: int) -> None:
    frames = [rgb_pattern(width, height, seed) for seed in range(8)]  # cycled: encoding is not measured
    sound = audio_samples(float(seconds), 44_100, 1, seed=1)[:, 0]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=44_100, layout="mono")
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        chunk = av.AudioFrame.from_ndarray(sound[None, :], format="fltp", layout="mono")
        chunk.sample_rate = 44_100
        container.mux(audio.encode(chunk))
        container.mux(audio.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    results: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        screenshot = rgb_pattern(1920, 1080, seed=1)
        photo = directory / "photo.jpg"
        Image.fromarray(rgb_pattern(4032, 3024, seed=2)).save(photo, quality=90)
        camera = [rgb_pattern(1280, 720, seed=s) for s in range(8)]
        video = directory / "clip.mp4"
        write_video(video, seconds=20, fps=30, width=1280, height=720)
        mic = audio_samples(10.0, 16_000, 1, seed=3)[:, 0]
        long_wav = directory / "talk.wav"
        soundfile.write(long_wav, audio_samples(300.0, 44_100, 1, seed=4), 44_100, subtype="PCM_16")

        cases: list[tuple[str, Callable[[], object]]] = [
            ("image: 1920×1080 screenshot array → 2 views", lambda: process_image(screenshot)),
            ("image: 4032×3024 JPEG file → 2 views", lambda: process_image(photo)),
            ("live frames: 8 × 1280×720 → VideoInput", lambda: process_frames(camera, max_frames=8)),
            ("video file: 20 s 720p30 H.264+AAC → 64 frames + sound", lambda: process_video(video)),
            ("audio: 10 s mic PCM (16 kHz) → mels", lambda: speech_features(mic)),
            ("audio: 5 min 44.1 kHz WAV → 16 kHz → 10 chunks of mels", lambda: process_audio(long_wav)),
        ]
        for name, run in cases:
            seconds = median_seconds(run, args.repeat)
            results.append((name, seconds))
            print(f"{name:60s} {seconds * 1000:8.1f} ms", flush=True)


if __name__ == "__main__":
    main()
