"""`ola-assistant` sub-commands that need no GUI.

Each sub-command lives in its own module under ``ola_core/commands`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` (``args -> exit code``).
The GUI entry point (``app/entry.py``) reuses :func:`build_parser` and adds the window as the
default when no sub-command is given, so ``ola_core`` never imports Qt.
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
from collections.abc import Sequence

from ola_core.errors import OlaError
from ola_core.log import LEVELS, configure_logging
from ola_core.platform_info import version_line

# Modules under ola_core/commands, in the order their sub-commands appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "doctor",
    "devices",
    "download",
    "ask",
    "replay",
    "chat",
    "tiny_checkpoint",
    "bench",
    "cosyvoice",
    "booth",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ola-assistant",
        description="Ola Desktop Assistant: a local, voice-first assistant on the Ola-7B omni model.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    parser.add_argument("--log-level", choices=LEVELS, default="warning", help="logging verbosity")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"ola_core.commands.{name}").register(subparsers)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the handler chosen by ``args``; user-facing errors become one line and exit code 2.

    A file the user named that cannot be opened (no permission, a folder where a file belongs)
    is such an error too: the line names the file instead of showing a traceback.
    """
    configure_logging(args.log_level)
    _printable_text_arguments(args)
    try:
        return int(args.handler(args))
    except OlaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.filename is None:
            raise
        reason = error.strerror or type(error).__name__
        print(
            f"error: cannot use {error.filename}: {reason}. Check the path and its permissions.",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


def _printable_text_arguments(args: argparse.Namespace) -> None:
    """Text arguments (a question) that were not valid UTF-8 get U+FFFD for the bad bytes.

    Python hands such bytes over as lone surrogates, which the tokenizer and every print would
    reject; file paths keep theirs (``Path`` arguments), since they name the file on disk.
    """
    for name, value in vars(args).items():
        if isinstance(value, str):
            setattr(args, name, value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name with undecodable bytes must still print
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
