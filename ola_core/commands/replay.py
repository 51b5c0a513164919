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
from collections.abc import Callable
from pathlib import Path

from ola_core.errors import MediaError, OlaError
from ola_core.settings import MEMORY_PROFILES

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
    parser.add_argument("--profile", choices=MEMORY_PROFILES, help="memory profile (default: the settings')")
    parser.add_argument("--quantization", choices=("nf4", "int8", "none"), help="default: the settings'")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), help="default: the settings'")
    parser.add_argument(
        "--max-new-tokens",
        type=setting_number("GenerationPreferences", "max_new_tokens"),
        metavar="N",
        help="longest answer in tokens (default: the settings')",
    )
    parser.add_argument(
        "--speculation-ms",
        type=setting_number("AudioSettings", "speculation_ms"),
        metavar="MS",
        help="start the turn after this much silence, before the endpoint (0 = off; default: the settings')",
    )
    parser.add_argument(
        "--end-silence-ms",
        type=setting_number("AudioSettings", "end_of_turn_silence_ms"),
        metavar="MS",
        help="end-of-turn silence (default: the settings')",
    )
    parser.add_argument(
        "--fixed-endpoint", action="store_true", help="always wait exactly the end-of-turn silence"
    )
    parser.add_argument("--no-play", action="store_true", help="do not play the answer on the speakers")
    parser.set_defaults(handler=run)


def setting_number(section: str, name: str) -> Callable[[str], int]:
    """An argparse type for an option that sets the whole-number setting ``section.name``:
    a whole number within the range the settings allow."""

    def parse(text: str) -> int:
        import ola_core.settings as settings_module

        low, high = settings_module.field_range(getattr(settings_module, section), name)
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be within {low:g}–{high:g}, not {value}")
        return value

    return parse


def run(args: argparse.Namespace) -> int:
    from ola_core.assistant.audio_in import contains_speech
    from ola_core.assistant.headless import HeadlessSession, replay_settings
    from ola_core.processing.audio import load_audio
    from ola_core.processing.video import process_video

    # Everything the user named is checked before the model loads: a bad file costs a second.
    if args.frames is not None and not args.frames.is_dir():
        raise MediaError(f"The frames folder {args.frames} does not exist. Check the path.")
    if args.video is not None or args.frames is not None:
        process_video(args.video or args.frames, max_frames=1, with_audio=False)  # MediaError naming it
    for path in (args.out, args.trace):
        if path is not None:
            check_writable(path)
    settings = replay_settings(
        args.model,
        profile=args.profile,
        quantization=args.quantization,
        device=args.device,
        max_new_tokens=args.max_new_tokens,
        speculation_ms=args.speculation_ms,
        end_silence_ms=args.end_silence_ms,
        adaptive_endpointing=False if args.fixed_endpoint else None,
    )
    speech = load_audio(args.audio)  # MediaError naming the file (missing, corrupt, NaN samples)
    if not contains_speech(speech, settings.audio):
        raise MediaError(
            f"No speech was found in {args.audio}: it is silent or too quiet to be heard as a question."
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
        finished = session.ask_spoken(speech, timeout=WAIT_MARGIN_S)
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
    if trace.speculation:
        print(f"speculative start: {trace.speculation_summary()}", file=sys.stderr)
    if args.trace is not None:
        args.trace.write_text(
            json.dumps(trace.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if args.out is not None:
        print(f"answer audio: {args.out}", file=sys.stderr)
    return 0 if finished.outcome == "completed" else 1


def check_writable(path: Path) -> None:
    """A :class:`MediaError` naming ``path`` unless a file can be written there (made and removed).

    Checked before the turn, so an unwritable ``--out`` does not lose a whole answer at the end.
    """
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
    except OSError as error:
        raise MediaError(f"Cannot write {path}: {error.strerror or error}. Choose another place.") from None
    if not existed:
        path.unlink(missing_ok=True)


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"
