"""`ola-assistant devices`: the microphones, speakers, cameras and monitors the assistant can use.

``--test-mic SECONDS`` listens on a microphone and prints its level and every turn the voice
detector finds, with the same settings the assistant uses: the quickest way to check that the
right microphone is picked and that speech is heard.
"""

from __future__ import annotations

import argparse
import queue
import time
from typing import Any

from ola_core.capture.devices import list_cameras, list_microphones, list_monitors, list_speakers
from ola_core.capture.events import CaptureEvent, DeviceLost, DeviceRestored, LevelUpdate, SpeechEnded


def _list() -> None:
    for title, audio in (("Microphones", list_microphones()), ("Speakers", list_speakers())):
        print(f"{title}:")
        for d in audio or []:
            print(f"  {'*' if d.is_default else ' '} {d.name}  ({d.description})")
        if not audio:
            print("    none found")
    cameras = list_cameras()
    print("Cameras:" if cameras else "Cameras:\n    none found")
    for c in cameras:
        print(f"    {c.index}: {c.name} ({c.width}×{c.height})")
    monitors = list_monitors()
    print("Monitors:" if monitors else "Monitors:\n    none (no display)")
    for m in monitors[1:]:
        print(f"    {m.index}: {m.width}×{m.height} at ({m.left}, {m.top})")


def _test_mic(device: str | None, seconds: float) -> None:
    from ola_core.capture.mic import MicStream
    from ola_core.capture.vad import Endpointer

    events: queue.Queue[CaptureEvent] = queue.Queue()
    endpointer = Endpointer(on_event=events.put)
    with MicStream(device, on_block=endpointer.feed, on_event=events.put) as mic:
        print(f"Listening on {mic.name} at {mic.sample_rate} Hz for {seconds:g} s; speak now.")
        deadline = time.monotonic() + seconds
        last_meter = 0.0
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = events.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            if isinstance(event, LevelUpdate) and event.t - last_meter >= 0.5:
                last_meter = event.t
                bar = "#" * max(0, int((event.rms_dbfs + 70) / 2))
                print(f"  level {event.rms_dbfs:6.1f} dBFS {bar}")
            elif isinstance(event, SpeechEnded):
                print(
                    f"  turn: {event.duration_s:.2f} s of audio, voiced "
                    f"{event.t_last_voiced - event.t_first_voiced:.2f} s ({event.reason})"
                )
            elif isinstance(event, DeviceLost | DeviceRestored):
                print(f"  {event}")


def _handle(args: argparse.Namespace) -> int:
    if args.test_mic:
        _test_mic(args.mic, args.test_mic)
    else:
        _list()
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("devices", help="list microphones, speakers, cameras and monitors")
    parser.add_argument("--test-mic", type=float, metavar="SECONDS", help="listen and show level and turns")
    parser.add_argument("--mic", help="microphone name (default: the system default)")
    parser.set_defaults(handler=_handle)
