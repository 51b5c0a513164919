"""`ola-assistant replay`: one spoken turn through the whole assistant loop, headless.

The question's audio goes through the real endpointer at its real pace, as if spoken into the
microphone; the video (or folder of frames) plays as a live camera would, so the turn takes the
frames shown while the question was "spoken"; the answer is synthesized, written to a wav and
played when an output device exists. What the GUI would show is printed, and the turn's trace
is written as JSON: the tool for reproducing a latency or a bug without a microphone.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from ola_core.errors import MediaError, OlaError

WAIT_MARGIN_S = 300.0  # loading + answering on a slow CPU, beyond the question's own length


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="answer a recorded spoken question (with optional video) through the full assistant loop",
        description=__doc__,
    )
    parser.add_argument("--model", type=Path, required=True, help="folder of the Ola checkpoint")
    parser.add_argument("--audio", type=Path, required=True, help="the spoken question (wav, flac, mp3, …)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--video", type=Path, help="a video file shown as the camera while the question plays"
    )
    source.add_argument("--frames", type=Path, help="a folder of images shown as the camera, in name order")
    parser.add_argument("--out", type=Path, help="write the spoken answer here (wav)")
    parser.add_argument("--trace", type=Path, help="write the turn's latency trace here (JSON)")
    parser.add_argument("--quantization", choices=("nf4", "int8", "none"), help="default: the settings'")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), help="default: the settings'")
    parser.add_argument("--max-new-tokens", type=int, help="default: the settings'")
    parser.add_argument("--no-play", action="store_true", help="do not play the answer on the speakers")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ola_core.assistant.headless import HeadlessSession, replay_settings

    for path, what in ((args.audio, "audio"), (args.video, "video")):
        if path is not None and not path.is_file():
            raise MediaError(f"The {what} file {path} does not exist. Check the path.")
    if args.frames is not None and not args.frames.is_dir():
        raise MediaError(f"The frames folder {args.frames} does not exist. Check the path.")
    settings = replay_settings(
        args.model, quantization=args.quantization, device=args.device, max_new_tokens=args.max_new_tokens
    )
    session = HeadlessSession(
        settings, out_wav=args.out, play=not args.no_play, video=args.video, frames=args.frames
    )
    printer = threading.Lock()

    def show(text: str) -> None:
        with printer:
            sys.stdout.write(text)
            sys.stdout.flush()

    session.on_text = show
    try:
        session.start(timeout=WAIT_MARGIN_S)
        finished = session.ask_spoken(args.audio, timeout=WAIT_MARGIN_S)
        if finished is not None:
            session.save_wav()
    finally:
        session.close()
    show("\n")
    for error in session.errors:
        print(f"error ({error.area}): {error.message}", file=sys.stderr)
    if finished is None:
        raise OlaError("No answer came back: the question was not heard as speech, or the model stalled.")
    trace = finished.trace
    print(
        f"turn {finished.turn_id}: {finished.outcome}; frames {trace.frames_used}; "
        f"mouth-to-ear {_ms(trace.mouth_to_ear_s)}; first token after endpoint "
        f"{_ms(None if trace.t_first_token is None or trace.t_endpoint is None else trace.t_first_token - trace.t_endpoint)}",
        file=sys.stderr,
    )
    if args.trace is not None:
        args.trace.parent.mkdir(parents=True, exist_ok=True)
        args.trace.write_text(
            json.dumps(trace.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if args.out is not None:
        print(f"answer audio: {args.out}", file=sys.stderr)
    return 0 if finished.outcome == "completed" else 1


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"
