"""Screenshots of the main window under a real X server (Xvfb), saved for review in artifacts/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from tests.gui.screenshots import STATES

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "artifacts" / "screenshots"


def _distinct_colours(image: QImage, step: int = 16) -> int:
    return len(
        {image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)}
    )


@pytest.mark.xvfb
@pytest.mark.slow
def test_screenshots_of_idle_speaking_and_error_states(x_display: str) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display}
    for name in STATES:
        (OUT / f"{name}.png").unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "tests.gui.screenshots", str(OUT)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    images = {name: QImage(str(OUT / f"{name}.png")) for name in STATES}
    for name, image in images.items():
        assert not image.isNull(), name
        assert image.width() >= 1000 and image.height() >= 600, (name, image.size())
        assert _distinct_colours(image) > 20, f"{name}.png looks blank"
    # The states really differ (the answer, the banners), not three copies of one frame.
    assert images["idle"] != images["speaking"] != images["error"]

    # The dark theme (forced here; the app follows the system) for the same review.
    dark = subprocess.run(
        [sys.executable, "-m", "tests.gui.screenshots", str(OUT), "-dark"],
        cwd=ROOT, env={**env, "OLA_THEME": "dark"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dark.returncode == 0, dark.stderr[-3000:]
    speaking_dark = QImage(str(OUT / "speaking-dark.png"))
    assert QColor(speaking_dark.pixel(5, 400)).lightness() < 80, "dark window background"
    assert QColor(images["speaking"].pixel(5, 400)).lightness() > 200, "light window background"

    # 200 % scaling: the same layout at twice the pixels (fonts and icons rendered sharp, not clipped).
    scaled = subprocess.run(
        [sys.executable, "-m", "tests.gui.screenshots", str(OUT), "-200pct"],
        cwd=ROOT, env={**env, "QT_SCALE_FACTOR": "2"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert scaled.returncode == 0, scaled.stderr[-3000:]
    big = QImage(str(OUT / "speaking-200pct.png"))
    assert (big.width(), big.height()) == (2 * images["speaking"].width(), 2 * images["speaking"].height())
