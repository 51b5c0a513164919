"""`ola-assistant chat`: talk to the assistant in a terminal — microphone, optional camera or screen.

Speak (hands-free) or type a line and press Enter; answers are printed as they are generated and
spoken. Lines starting with ``/`` are commands: ``/stop``, ``/reset``, ``/mute``, ``/unmute``,
``/camera N``, ``/screen N``, ``/off``, ``/attach PATH``, ``/quit``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
from pathlib import Path

from ola_core.events import (
    AssistantEvent,
    AssistantTextDelta,
    DeviceEvent,
    ErrorRaised,
    ModelLoaded,
    ModelLoadProgress,
    StateChanged,
    TurnFinished,
    UserTurnCaptured,
    WarningRaised,
)

ANSWER_WAIT_S = 600.0
HELP = "commands: /stop /reset /mute /unmute /camera N /screen N /off /attach PATH /quit"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="talk to the assistant in the terminal (microphone, optional camera)",
        description=__doc__,
    )
    parser.add_argument("--model", type=Path, help="folder of the Ola checkpoint (default: the settings')")
    parser.add_argument("--camera", type=int, metavar="N", help="look through camera N")
    parser.add_argument("--screen", type=int, metavar="N", help="look at monitor N (1 = first)")
    parser.add_argument(
        "--push-to-talk", action="store_true", help="no hands-free listening: type or use /commands"
    )
    parser.add_argument(
        "--headphones", action="store_true", help="no echo protection: full barge-in sensitivity"
    )
    parser.add_argument("--quantization", choices=("nf4", "int8", "none"))
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"))
    parser.set_defaults(handler=run)


class _Printer:
    """Prints events as a terminal transcript (called from the assistant's threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mid_answer = False
        self.ready = threading.Event()  # the model loaded (or failed to): typed lines can be handled

    def __call__(self, event: AssistantEvent) -> None:
        with self._lock:
            if isinstance(event, AssistantTextDelta):
                if not self._mid_answer:
                    sys.stdout.write("ola> ")
                    self._mid_answer = True
                sys.stdout.write(event.text)
            elif isinstance(event, TurnFinished):
                note = "" if event.outcome == "completed" else f" [{event.outcome}]"
                sys.stdout.write(f"{note}\n")
                self._mid_answer = False
            elif isinstance(event, UserTurnCaptured) and event.kind == "voice":
                sys.stdout.write(f"you> (spoke {event.duration_s:.1f} s, {len(event.frames)} frames)\n")
            elif isinstance(event, ModelLoadProgress):
                sys.stdout.write(f"loading {event.fraction:4.0%} {event.stage}\n")
            elif isinstance(event, ModelLoaded):
                sys.stdout.write(f"ready: {event.description} ({event.load_s:.1f} s). {HELP}\n")
                self.ready.set()
            elif isinstance(event, StateChanged) and event.state == "listening":
                sys.stdout.write("(listening…)\n")
            elif isinstance(event, StateChanged) and event.state == "error":
                self.ready.set()
            elif isinstance(event, ErrorRaised | WarningRaised):
                sys.stderr.write(f"[{event.area}] {event.message}\n")
            elif isinstance(event, DeviceEvent):
                sys.stderr.write(
                    f"[{event.kind}] {event.name}: {'back' if event.available else event.message}\n"
                )
            sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from ola_core.assistant import Assistant
    from ola_core.settings import load_settings

    settings, warnings = load_settings()
    for warning in warnings:
        print(warning, file=sys.stderr)
    model = settings.model
    if args.model is not None:
        model = dataclasses.replace(model, model_dir=str(args.model))
    if args.quantization:
        model = dataclasses.replace(model, quantization=args.quantization)
    if args.device:
        model = dataclasses.replace(model, device=args.device)
    audio = dataclasses.replace(
        settings.audio,
        hands_free=not args.push_to_talk,
        echo_mode="headphones" if args.headphones else settings.audio.echo_mode,
    )
    settings = dataclasses.replace(settings, model=model, audio=audio)
    assistant = Assistant(settings)
    printer = _Printer()
    assistant.subscribe(printer)
    assistant.start()
    if args.camera is not None:
        assistant.set_source("camera", args.camera)
    elif args.screen is not None:
        assistant.set_source("screen", args.screen)
    try:
        printer.ready.wait()
        for line in sys.stdin:
            if not _command(assistant, line.strip()):
                break
            assistant.wait_idle(ANSWER_WAIT_S)  # one question at a time (also when input is piped)
    except KeyboardInterrupt:
        pass
    finally:
        assistant.shutdown()
    return 0


def _command(assistant: object, line: str) -> bool:
    """Handle one typed line; False to quit."""
    from ola_core.assistant import Assistant

    assert isinstance(assistant, Assistant)
    if not line:
        return True
    if not line.startswith("/"):
        assistant.send_text(line)
        return True
    name, _, rest = line[1:].partition(" ")
    if name == "quit":
        return False
    simple = {
        "stop": assistant.stop,
        "reset": assistant.reset,
        "mute": lambda: assistant.set_muted(True),
        "unmute": lambda: assistant.set_muted(False),
        "off": lambda: assistant.set_source("off"),
    }
    if name in simple:
        simple[name]()
    elif name in ("camera", "screen") and rest.strip().isdigit():
        assistant.set_source(name, int(rest))  # type: ignore[arg-type]
    elif name == "attach" and rest.strip():
        assistant.attach(rest.strip())
    else:
        print(HELP, file=sys.stderr)
    return True
