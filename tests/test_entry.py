"""The console script: sub-commands, logging flag, and a clear message without a display."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from app import entry
from ola_core import cli
from ola_core.log import configure_logging


def test_no_display_says_so_instead_of_aborting() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from app.entry import main; sys.exit(main([]))"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no display found" in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_json_reports_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert entry.main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["packages"]["torch"]
    assert report["cuda"] in (True, False)


def test_log_level_flag_sets_root_level() -> None:
    args = cli.build_parser().parse_args(["--log-level", "debug", "doctor"])
    configure_logging(args.log_level)
    assert logging.getLogger().level == logging.DEBUG
    configure_logging("warning")
    assert logging.getLogger().level == logging.WARNING


def test_unknown_log_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("loud")


def test_ola_error_becomes_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from ola_core.errors import MediaError

    def fail(_: object) -> int:
        raise MediaError("photo.png: not an image")

    args = cli.build_parser().parse_args(["doctor"])
    args.handler = fail
    assert cli.run(args) == 2
    assert capsys.readouterr().err.strip() == "error: photo.png: not an image"


def test_window_opens_offscreen(qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.isVisible()
