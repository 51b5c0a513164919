"""Render the application icon (assets/ola-assistant.svg) to the PNG sizes desktops look up.

Run after editing the SVG: ``python scripts/render_icons.py``. It writes
``assets/icons/hicolor/<N>x<N>/apps/ola-assistant.png`` (the freedesktop icon-theme layout, so
``scripts/install-desktop-entry.sh`` copies the tree as it is) and copies the SVG into
``app/resources/`` — the copy the window loads at run time, installed with the package. The SVG
in assets/ is the only one edited by hand; tests/test_packaging.py checks the copy is identical
and the PNGs have these sizes.

Qt renders offscreen, so this works on a headless machine.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICON_NAME = "ola-assistant"
SOURCE_SVG = ROOT / "assets" / f"{ICON_NAME}.svg"
PACKAGED_SVG = ROOT / "app" / "resources" / f"{ICON_NAME}.svg"
PNG_ROOT = ROOT / "assets" / "icons" / "hicolor"
SIZES = (16, 32, 48, 64, 128, 256)


def png_path(size: int) -> Path:
    return PNG_ROOT / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"


def render(svg: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Draw ``svg`` at each size (anti-aliased, transparent background) and save the PNGs."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"error: {svg} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        out = png_path(size)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            raise SystemExit(f"error: could not write {out}")
        written.append(out)
    return written


def main() -> int:
    for path in render(SOURCE_SVG):
        print(path.relative_to(ROOT))
    PACKAGED_SVG.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE_SVG, PACKAGED_SVG)
    print(PACKAGED_SVG.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
