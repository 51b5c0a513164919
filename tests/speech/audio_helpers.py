"""Recording the virtual speaker and finding our stream in PulseAudio, for the audio tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile

MONITOR_RATE = 48_000


@contextmanager
def record_speaker(path: Path, sink: str = "speaker") -> Iterator[list[np.ndarray]]:
    """Record a sink's monitor while the block runs; the list receives the mono signal."""
    result: list[np.ndarray] = []
    before = _recording_streams()
    recorder = subprocess.Popen(
        [
            "parecord",
            "-d",
            f"{sink}.monitor",
            f"--rate={MONITOR_RATE}",
            "--channels=1",
            "--format=float32le",
            "--file-format=wav",
            "--latency-msec=10",
            str(path),
        ],
        stderr=subprocess.DEVNULL,
    )
    # Wait until the recorder's stream exists in the sound server (a fixed sleep was too short on
    # a loaded machine: the recording then missed the start of what was played).
    deadline = time.monotonic() + 10.0
    while _recording_streams() <= before and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # its first buffers are in flight
    try:
        yield result
    finally:
        time.sleep(0.2)
        recorder.terminate()
        recorder.wait(timeout=5)
    pcm, rate = soundfile.read(str(path), dtype="float32")
    assert rate == MONITOR_RATE
    result.append(pcm if pcm.ndim == 1 else pcm.mean(axis=1))


def _recording_streams() -> int:
    """How many recording streams (source outputs) the sound server has now."""
    listed = subprocess.run(["pactl", "list", "short", "source-outputs"], capture_output=True, text=True)
    return len(listed.stdout.splitlines())


def active_spans(pcm: np.ndarray, threshold: float = 0.02, max_gap_s: float = 0.002) -> list[tuple[int, int]]:
    """(start, end) sample ranges where the signal is present, bridging gaps shorter than max_gap_s."""
    loud = np.flatnonzero(np.abs(pcm) > threshold)
    if not len(loud):
        return []
    # A sine crosses zero twice per period: bridge sub-period dips (≤ max_gap_s) but not real gaps.
    breaks = np.flatnonzero(np.diff(loud) > max_gap_s * MONITOR_RATE)
    starts = np.r_[loud[0], loud[breaks + 1]]
    ends = np.r_[loud[breaks], loud[-1]] + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def dominant_frequency(pcm: np.ndarray, rate: int = MONITOR_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


def our_sink_inputs() -> list[str]:
    """Indexes of this process's playback streams on the PulseAudio daemon."""
    listing = subprocess.run(["pactl", "list", "sink-inputs"], capture_output=True, text=True).stdout
    found = []
    for block in listing.split("Sink Input #")[1:]:
        if re.search(rf'application\.process\.id = "{os.getpid()}"', block):
            found.append(block.split()[0])
    return found


def kill_sink_input(index: str) -> None:
    """What a vanishing device looks like to the app: the server drops its stream."""
    assert shutil.which("pacmd"), "pacmd (pulseaudio-utils) is needed to remove a stream"
    subprocess.run(["pacmd", "kill-sink-input", index], check=True, capture_output=True)
