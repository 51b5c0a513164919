"""`ola-assistant` sub-commands that need no GUI.

Each sub-command lives in its own module under ``ola_core/commands`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` (``args -> exit code``).
The GUI entry point (``app/entry.py``) reuses :func:`build_parser` and adds the window as the
default when no sub-command is given, so ``ola_core`` never imports Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ola_core import __version__
from ola_core.errors import OlaError
from ola_core.log import LEVELS, configure_logging

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
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ola-assistant",
        description="Ola Desktop Assistant: a local, voice-first assistant on the Ola-7B omni model.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", choices=LEVELS, default="warning", help="logging verbosity")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"ola_core.commands.{name}").register(subparsers)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the handler chosen by ``args``; user-facing errors become one line and exit code 2."""
    configure_logging(args.log_level)
    try:
        return int(args.handler(args))
    except OlaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
