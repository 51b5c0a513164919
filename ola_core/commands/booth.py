"""`ola-assistant booth`: the demo-booth kiosk, kept running all day by a watchdog.

The operator's guard rails come from ``--config booth.toml`` (docs/booth.md; ``--sample`` prints
one with every key). The file is checked first: each mistake is printed with its key and the
command exits with status 2. Then a watchdog starts the kiosk window as a child process and
restarts it when it crashes or hangs; ``--no-watchdog`` opens the window in this process (what the
watchdog's child runs). The window itself lives in ``app/booth`` and is reached through
``app/entry.py`` (``args.open_booth``), so this module never imports Qt.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ola_core.errors import OlaError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "booth",
        help="demo-booth kiosk: full screen, visitors' sessions wiped after each, watchdog",
        description=__doc__,
    )
    parser.add_argument(
        "--config", type=Path, metavar="TOML", help="the operator's booth.toml (default: built-in)"
    )
    parser.add_argument("--check", action="store_true", help="only check the config and exit (0 = valid)")
    parser.add_argument("--sample", action="store_true", help="print a booth.toml with every key and exit")
    parser.add_argument("--no-watchdog", action="store_true", help="open the window in this process")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ola_core.booth.config import load_booth_config, sample_toml

    if args.sample:
        sys.stdout.write(sample_toml())
        return 0
    config = load_booth_config(args.config)  # a BoothConfigError becomes "error: ..." and status 2
    if args.check:
        print(f"{args.config or 'the built-in config'}: valid")
        return 0
    open_booth = getattr(args, "open_booth", None)
    if open_booth is None:
        raise OlaError(
            "The booth window starts through the `ola-assistant booth` command (it needs the GUI)."
        )
    if args.no_watchdog:
        return int(open_booth(config, args.config))
    return _supervise(args.config, config.operations.log_dir)


def _supervise(config_path: Path | None, log_folder: str) -> int:
    from ola_core.booth.health import HEALTH_FILE, log_dir
    from ola_core.booth.watchdog import Watchdog

    frozen = getattr(sys, "frozen", False)  # the packaged app is its own program
    command = [sys.executable, *([] if frozen else ["-m", "app.entry"]), "booth", "--no-watchdog"]
    if config_path is not None:
        command += ["--config", str(config_path.resolve())]
    watchdog = Watchdog(command, log_dir(log_folder) / HEALTH_FILE)
    signal.signal(signal.SIGTERM, lambda *_: watchdog.stop())
    return watchdog.run()
