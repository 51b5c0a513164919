"""What the assistant can see: live preview, source picker, on-air indicator, frames of the last turn.

The preview polls ``frame_provider`` (the Assistant's non-blocking ``preview_frame``) from a
timer at about 15 fps instead of receiving 30 fps events: the GUI takes frames at the rate it
can draw them, and a frame it skipped costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.icons import icon
from app.widgets.images import qimage_from_rgb, thumbnail
from ola_core.media_types import TimedFrame

FrameProvider = Callable[[], TimedFrame | None]
PREVIEW_FPS = 15


class PreviewLabel(QLabel):
    """Keeps the frame's aspect ratio at any size; shows a hint when nothing is shared."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(240, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setProperty("role", "muted")
        self.setAccessibleName("Camera or screen preview")
        self.setWordWrap(True)
        self._image: QImage | None = None

    def show_image(self, image: QImage | None) -> None:
        self._image = image
        self._render()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        if self._image is None or self._image.isNull():
            self.setPixmap(QPixmap())
            self.setText("Nothing shared.\nChoose a camera or a screen to let Ola see it.")
            return
        self.setPixmap(thumbnail(self._image, self.size()))


class FramesStrip(QScrollArea):
    """Thumbnails of the exact frames the model was given for the last turn."""

    THUMB = QSize(96, 72)

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFixedHeight(self.THUMB.height() + 26)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName("Frames used in the last turn")
        self.setProperty("role", "strip")
        self.images: list[QImage] = []
        self.setWidget(self._row_of(self.images))

    def set_frames(self, images: Sequence[QImage]) -> None:
        """Show ``images``; the row is rebuilt whole and the old one deleted once, by Qt.

        Taking thumbnails out item by item (``takeAt``) leaves PySide holding wrappers of deleted
        layout items, later handed out for new objects at the same address (see
        ``TranscriptView.clear``).
        """
        self.images = list(images)
        old = self.takeWidget()
        self.setWidget(self._row_of(self.images))
        if old is not None:
            old.hide()
            old.setParent(self)
            old.deleteLater()

    def _row_of(self, images: Sequence[QImage]) -> QWidget:
        inner = QWidget()
        row = QHBoxLayout(inner)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        if not images:
            empty = QLabel("No frames used yet.")
            empty.setProperty("role", "muted")
            row.addWidget(empty)
        for k, image in enumerate(images):
            label = QLabel()
            label.setPixmap(thumbnail(image, self.THUMB))
            label.setFixedSize(self.THUMB)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setAccessibleName(f"Frame {k + 1} of {len(images)}")
            label.setToolTip(f"Frame {k + 1} of {len(images)} given to the model")
            row.addWidget(label)
        row.addStretch(1)
        return inner


class VisionPanel(QFrame):
    """Preview + source picker + indicator + frames strip; asks for source changes by signal."""

    source_requested = Signal(str, int)  # kind ("camera" | "screen" | "off"), index
    region_requested = Signal(int)  # monitor index: the user wants to pick part of that screen

    def __init__(
        self,
        cameras: Sequence[tuple[int, str]] = ((0, "Camera 1"),),
        monitors: Sequence[tuple[int, str]] = ((1, "Screen 1"),),
    ) -> None:
        super().__init__()
        self.setProperty("role", "card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)

        header = QHBoxLayout()
        title = QLabel("What Ola sees")
        title.setProperty("role", "title")
        header.addWidget(title)
        header.addStretch(1)
        self.indicator = QLabel()
        self.indicator.setAccessibleName("Sharing indicator")
        header.addWidget(self.indicator)
        layout.addLayout(header)

        self.kind = "off"
        self.index = 0
        self.picker = QComboBox()
        self.picker.setAccessibleName("Visual source")
        self.picker.setToolTip("What Ola sees: a camera, a screen, or nothing")
        self.set_devices(cameras, monitors)
        self.picker.activated.connect(self._picked)
        layout.addWidget(self.picker)

        self.preview = PreviewLabel()
        layout.addWidget(self.preview, 1)

        strip_title = QLabel("Frames used in the last turn")
        strip_title.setProperty("role", "muted")
        layout.addWidget(strip_title)
        self.strip = FramesStrip()
        layout.addWidget(self.strip)

        self._provider: FrameProvider | None = None
        self._last_t: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // PREVIEW_FPS)
        self._timer.timeout.connect(self._poll)
        self.show_source("off", 0)

    def set_devices(self, cameras: Sequence[tuple[int, str]], monitors: Sequence[tuple[int, str]]) -> None:
        """Fill the picker with ``(index, name)`` pairs; monitors use mss numbering (1 = first)."""
        current = self.picker.currentData()
        self.picker.clear()
        muted = theme.current().muted_text
        self.picker.addItem(icon("off", muted), "Off — share nothing", ("off", 0))
        for index, name in cameras:
            self.picker.addItem(icon("camera", muted), name, ("camera", index))
        for index, name in monitors:
            self.picker.addItem(icon("screen", muted), name, ("screen", index))
        for index, _name in monitors:
            self.picker.addItem(icon("screen", muted), f"Part of screen {index}…", ("region", index))
        self.picker.setCurrentIndex(max(0, self.row_of(current)))

    def row_of(self, data: object) -> int:
        """The picker row holding ``data`` (findData cannot compare Python tuples), or -1."""
        return next((row for row in range(self.picker.count()) if self.picker.itemData(row) == data), -1)

    def set_frame_provider(self, provider: FrameProvider | None) -> None:
        self._provider = provider

    def _picked(self, row: int) -> None:
        kind, index = self.picker.itemData(row)
        if kind == "region":
            self.region_requested.emit(index)
        else:
            self.source_requested.emit(kind, index)

    def show_source(self, kind: str, index: int) -> None:
        """Reflect the source the assistant actually switched to (SourceChanged)."""
        self.kind = kind
        self.index = index
        row = self.row_of((kind, index))
        if row < 0:  # in use but not listed (a camera from the settings the probe did not find)
            name = f"Camera {index}" if kind == "camera" else f"Screen {index}"
            self.picker.addItem(icon(kind, theme.current().muted_text), f"{name} (not listed)", (kind, index))
            row = self.picker.count() - 1
        self.picker.setCurrentIndex(row)
        self.show_available(True)
        if kind == "off":
            self._timer.stop()
            self._last_t = None
            self.preview.show_image(None)
        elif self._provider is not None:
            self._timer.start()

    def show_available(self, available: bool) -> None:
        """The indicator: on air only while the chosen source really delivers."""
        if self.kind == "off":
            text, style = "Not sharing", ""
        elif not available:
            what = "Camera" if self.kind == "camera" else "Screen"
            text, style = f"{what} not available — retrying", "color: #b7791f; font-weight: 600;"
        elif self.kind == "camera":
            text, style = "● Camera on", "color: #e5484d; font-weight: 600;"
        else:
            text, style = "● Screen shared", "color: #e5484d; font-weight: 600;"
        self.indicator.setText(text)
        self.indicator.setStyleSheet(style)
        self.indicator.setAccessibleDescription(text)

    def _poll(self) -> None:
        frame = self._provider() if self._provider is not None else None
        if frame is None or frame.t == self._last_t:
            return
        self._last_t = frame.t
        self.preview.show_image(qimage_from_rgb(frame.rgb))

    def show_turn_frames(
        self, frames: Sequence[TimedFrame], attachment_frames: Sequence[Sequence[TimedFrame]] = ()
    ) -> tuple[list[QImage], list[list[QImage]]]:
        """Frames used: the source's frames and the attachments' pictures (an image, a video's
        sampled frames) of the turn; returns both as images, for the transcript."""
        images = [qimage_from_rgb(f.rgb) for f in frames]
        attached = [[qimage_from_rgb(f.rgb) for f in group] for group in attachment_frames]
        self.strip.set_frames(images + [image for group in attached for image in group])
        return images, attached
