"""`ola-assistant chat`: talk to the assistant in a terminal — microphone, optional camera or screen.

Speak (hands-free) or type a line and press Enter; answers are printed as they are generated and
spoken. Lines starting with ``/`` are commands: ``/stop``, ``/reset``, ``/mute``, ``/unmute``,
``/camera N``, ``/screen N``, ``/off``, ``/attach PATH``, ``/export PATH`` (.md or .json), ``/quit``.
The conversation is saved in the history (``keep_history`` setting), which the GUI reopens.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import queue
import sys
import threading
from collections.abc import Callable
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
from ola_core.settings import MEMORY_PROFILES

ANSWER_WAIT_S = 600.0
# A typed question, or a command that must wait for the answers asked before it (/export); None ends.
Question = str | Callable[[], None] | None
PROMPT = "you> "
HELP = "commands: /stop /reset /mute /unmute /camera N /screen N /off /attach PATH /export PATH /quit"


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
    parser.add_argument("--profile", choices=MEMORY_PROFILES, help="memory profile (default: the settings')")
    parser.add_argument("--quantization", choices=("nf4", "int8", "none"))
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"))
    parser.set_defaults(handler=run)


class _Printer:
    """Prints events as a terminal transcript (called from the assistant's threads)."""

    def __init__(self, prompt: bool = False) -> None:
        self._lock = threading.Lock()
        self._mid_answer = False
        self._prompt = PROMPT if prompt else ""  # shown on a terminal when a line can be typed
        self.ready = threading.Event()  # the model loaded (or failed to): typed lines can be handled
        self.load_error: str | None = None  # why the model did not load
        self._last_error: str | None = None

    def __call__(self, event: AssistantEvent) -> None:
        with self._lock:
            if isinstance(event, AssistantTextDelta):
                if not self._mid_answer:
                    sys.stdout.write("ola> ")
                    self._mid_answer = True
                sys.stdout.write(event.text)
            elif isinstance(event, TurnFinished):
                note = "" if event.outcome == "completed" else f" [{event.outcome}]"
                sys.stdout.write(f"{note}\n{self._prompt}")
                self._mid_answer = False
            elif isinstance(event, UserTurnCaptured) and event.kind == "voice":
                sys.stdout.write(f"you> (spoke {event.duration_s:.1f} s, {len(event.frames)} frames)\n")
            elif isinstance(event, ModelLoadProgress):
                sys.stdout.write(f"loading {event.fraction:4.0%} {event.stage}\n")
            elif isinstance(event, ModelLoaded):
                sys.stdout.write(f"ready: {event.description} ({event.load_s:.1f} s). {HELP}\n{self._prompt}")
                self.ready.set()
            elif isinstance(event, StateChanged) and event.state == "listening":
                sys.stdout.write("(listening…)\n")
            elif isinstance(event, StateChanged) and event.state == "error":
                if not self.ready.is_set():  # the model did not load
                    self.load_error = self._last_error or "The model could not be loaded."
                self.ready.set()
            elif isinstance(event, ErrorRaised | WarningRaised):
                if isinstance(event, ErrorRaised):
                    self._last_error = event.message
                self._break_line()
                sys.stderr.write(f"[{event.area}] {event.message}\n")
            elif isinstance(event, DeviceEvent):
                self._break_line()
                sys.stderr.write(
                    f"[{event.kind}] {event.name}: {'back' if event.available else event.message}\n"
                )
            sys.stdout.flush()

    def note(self, text: str) -> None:
        """A line for stderr (a log record, a library warning), kept out of the answer's text."""
        with self._lock:
            self._break_line()
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def _break_line(self) -> None:
        """A message during an answer starts on a line of its own, not inside the answer's text."""
        if self._mid_answer:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._mid_answer = False


def run(args: argparse.Namespace) -> int:
    from ola_core.assistant import Assistant
    from ola_core.errors import OlaError
    from ola_core.history.recorder import HistoryRecorder
    from ola_core.history.store import HistoryStore
    from ola_core.settings import load_settings

    if sys.stdin is None or sys.stdin.closed:
        raise OlaError("chat reads typed lines and commands from standard input, which is closed.")
    if isinstance(sys.stdin, io.TextIOWrapper):  # a line that is not UTF-8 must not end the chat
        sys.stdin.reconfigure(errors="replace")
    settings, warnings = load_settings()
    for warning in warnings:
        print(warning, file=sys.stderr)
    model = settings.model
    if args.model is not None:
        model = dataclasses.replace(model, model_dir=str(args.model))
    if args.quantization:
        model = dataclasses.replace(model, quantization=args.quantization)
    if args.profile:
        model = dataclasses.replace(model, profile=args.profile)
    if args.device:
        model = dataclasses.replace(model, device=args.device)
    audio = dataclasses.replace(
        settings.audio,
        hands_free=not args.push_to_talk,
        echo_mode="headphones" if args.headphones else settings.audio.echo_mode,
    )
    settings = dataclasses.replace(settings, model=model, audio=audio)
    assistant = Assistant(settings)
    printer = _Printer(prompt=sys.stdin.isatty())
    _route_logging(printer)
    assistant.subscribe(printer)
    # Without Keep history the conversation is still recorded, in memory only, for /export.
    recorder = HistoryRecorder(HistoryStore(None if settings.keep_history else ":memory:"))
    assistant.subscribe(recorder)
    assistant.start()
    if args.camera is not None:
        assistant.set_source("camera", args.camera)
    elif args.screen is not None:
        assistant.set_source("screen", args.screen)
    questions: queue.Queue[Question] = queue.Queue()
    sender = threading.Thread(
        target=_send_questions, args=(assistant, questions), name="chat-sender", daemon=True
    )
    try:
        printer.ready.wait()
        if printer.load_error is not None:
            raise OlaError(printer.load_error)
        sender.start()
        quit_now = False
        for line in sys.stdin:  # always read, also while an answer is spoken: /stop acts at once
            quit_now = not _command(assistant, line.strip(), questions, recorder)
            if quit_now:
                break
        if not quit_now:
            questions.put(None)  # end of piped input: answer what was asked, then leave
            sender.join()
    except KeyboardInterrupt:
        pass
    finally:
        questions.put(None)
        assistant.shutdown()
    return 0


class _PrinterHandler(logging.Handler):
    def __init__(self, printer: _Printer) -> None:
        super().__init__()
        self.printer = printer

    def emit(self, record: logging.LogRecord) -> None:
        self.printer.note(self.format(record))


def _route_logging(printer: _Printer) -> None:
    """Log records and Python warnings go through the printer, on lines of their own."""
    root = logging.getLogger()
    handler = _PrinterHandler(printer)
    for old in list(root.handlers):
        if isinstance(old, logging.StreamHandler):
            handler.setFormatter(old.formatter)
            root.removeHandler(old)
    root.addHandler(handler)
    logging.captureWarnings(True)


def _send_questions(assistant: object, questions: queue.Queue[Question]) -> None:
    """Send typed questions one at a time (piped input holds many), each after the last answer."""
    from ola_core.assistant import Assistant

    assert isinstance(assistant, Assistant)
    while (question := questions.get()) is not None:
        if isinstance(question, str):
            assistant.send_text(question)
            assistant.wait_idle(ANSWER_WAIT_S)
        else:
            question()


def _command(assistant: object, line: str, questions: queue.Queue[Question], recorder: object = None) -> bool:
    """Handle one typed line (a question joins ``questions``); False to quit."""
    from ola_core.assistant import Assistant
    from ola_core.history.recorder import HistoryRecorder

    assert isinstance(assistant, Assistant)
    if not line:
        return True
    if not line.startswith("/"):
        questions.put(line)
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
        if name in ("stop", "reset"):
            _drain(questions)  # Stop also drops the questions typed ahead
        simple[name]()
    elif name in ("camera", "screen") and rest.strip().isdigit():
        assistant.set_source(name, int(rest))  # type: ignore[arg-type]
    elif name == "attach" and rest.strip():
        assistant.attach(rest.strip())
    elif name == "export" and rest.strip() and isinstance(recorder, HistoryRecorder):
        path = Path(rest.strip()).expanduser()
        questions.put(lambda: _export(recorder, path))  # after the answers asked for before it
    else:
        print(HELP, file=sys.stderr)
    return True


def _export(recorder: object, path: Path) -> None:
    """Write the conversation so far to ``path`` (.md with its frames beside it, or .json)."""
    from ola_core.history.export import export
    from ola_core.history.recorder import HistoryRecorder

    assert isinstance(recorder, HistoryRecorder)
    conversation = recorder.conversation_id
    record = None if conversation is None else recorder.store.get(conversation)
    if record is None:
        print("Nothing to export yet: ask something first.", file=sys.stderr)
        return
    try:
        print(f"exported {len(record.turns)} turns to {export(record, path)}", file=sys.stderr)
    except OSError as error:
        print(f"Could not write {path}: {error.strerror or error}.", file=sys.stderr)


def _drain(questions: queue.Queue[Question]) -> None:
    while True:
        try:
            questions.get_nowait()
        except queue.Empty:
            return
