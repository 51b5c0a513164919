"""The `ola-assistant` console script: the window by default, `ola_core` sub-commands otherwise.

Qt is imported only when the window is actually started, so sub-commands work on headless
machines and the GUI-less core stays importable without PySide6 initialising.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ola_core import cli

if TYPE_CHECKING:
    from ola_core.booth.config import BoothConfig


def has_display() -> bool:
    """True when Qt can open a window (or has been told which platform to use)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    )


def run_gui(args: argparse.Namespace) -> int:
    if not has_display():
        print(
            "error: no display found (DISPLAY/WAYLAND_DISPLAY unset), so the window cannot open.\n"
            "Run it on a desktop session, or use a command-line mode: `ola-assistant --help`.",
            file=sys.stderr,
        )
        return 2
    from app.main import run_app  # Qt starts here, not at import time of this module

    return run_app(sys.argv[:1])


def run_smoke_test(args: argparse.Namespace) -> int:
    from app.smoke import run_smoke_test as smoke  # Qt and torch start here

    return smoke(timeout_s=args.smoke_timeout, offscreen=not has_display())


def open_booth(config: BoothConfig, config_path: Path | None) -> int:
    """`ola-assistant booth`'s kiosk window (ola_core/commands/booth.py has no Qt of its own)."""
    from app.booth.launch import run_booth  # Qt starts here

    return run_booth(config, config_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.build_parser()
    parser.set_defaults(handler=run_gui)
    parser.add_argument(
        "--smoke-test",
        action="store_const",
        const=run_smoke_test,
        dest="smoke",
        help="check this build end to end: the window (offscreen without a display), the test model, "
        "one typed question, the offline voice; exit 0 when all worked (nothing of yours is read or written)",
    )
    parser.add_argument("--smoke-timeout", type=float, default=300.0, metavar="S", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke is not None:
        if args.command is not None:
            parser.error("--smoke-test takes no command")
        args.handler = args.smoke
    args.open_booth = open_booth
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
