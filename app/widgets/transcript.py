"""The conversation: user bubbles (voice or typed), streaming assistant bubbles, auto-scroll.

Assistant text arrives in small deltas, far faster than it is worth re-rendering markdown; a
bubble collects them and re-renders at most every ``RENDER_INTERVAL_MS``, which keeps the GUI
thread free while an answer streams (tests/gui checks the event loop never stalls ≥ 50 ms).
The sentence whose audio is playing is highlighted with an extra selection, found in the
rendered document by its text (markdown markers stripped), since the rendered text differs
from the raw markdown the offsets refer to.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QResizeEvent,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSpacerItem,
    QTextBrowser,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.widgets.images import thumbnail
from ola_core.events import UserCaption

RENDER_INTERVAL_MS = 50
_MARKDOWN_MARKS = re.compile(r"[*_`#>~]|^\s*[-+]\s+|^\s*\d+\.\s+", re.MULTILINE)


def plain_sentence(sentence: str) -> str:
    """A spoken sentence as it appears in the rendered text (markdown markers gone, spaces collapsed)."""
    return " ".join(_MARKDOWN_MARKS.sub("", sentence).split())


def stable_boundary(markdown: str) -> int:
    """End of the last complete paragraph (after a blank line, outside any ``` code fence)."""
    boundary = 0
    in_fence = False
    pos = 0
    for line in markdown.splitlines(keepends=True):
        pos += len(line)
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        elif not in_fence and not line.strip() and line.endswith("\n") and pos < len(markdown):
            boundary = pos
    return boundary


def style_blocks(doc: QTextDocument, start: int) -> None:
    """Spacing between paragraphs and a tinted background for code, from ``start`` to the end.

    Qt's markdown reader gives every block zero margins and code no background, which reads
    as one dense wall of text in a chat bubble.
    """
    code_bg = QColor(theme.current().surface_alt)
    block = doc.findBlock(start)
    while block.isValid():
        fmt = block.blockFormat()
        cursor = QTextCursor(block)
        if fmt.hasProperty(QTextFormat.Property.BlockCodeFence) or block.charFormat().fontFixedPitch():
            fmt.setBackground(code_bg)
            fmt.setLeftMargin(8)
            fmt.setRightMargin(8)
            fmt.setTopMargin(2)
            fmt.setBottomMargin(2)
        elif block.textList() is None:
            fmt.setBottomMargin(6)
        else:
            fmt.setBottomMargin(2)
        cursor.setBlockFormat(fmt)
        block = block.next()


class Bubble(QFrame):
    """A message card: a header (who, when, copy) above the content."""

    def __init__(self, role: str, who: str) -> None:
        super().__init__()
        self.setProperty("role", f"{role}-bubble")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(12, 8, 12, 10)
        self.body.setSpacing(4)
        header = QHBoxLayout()
        self.who = QLabel(who)
        self.who.setStyleSheet("font-weight: 600;")
        header.addWidget(self.who)
        self.meta = QLabel(time.strftime("%H:%M"))
        self.meta.setProperty("role", "muted")
        header.addWidget(self.meta)
        header.addStretch(1)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setProperty("role", "link")
        self.copy_button.setAccessibleName(f"Copy {who}'s message")
        self.copy_button.clicked.connect(self.copy)
        header.addWidget(self.copy_button)
        self.body.addLayout(header)

    def plain_text(self) -> str:
        return ""

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.plain_text())


class UserBubble(Bubble):
    """Typed text, or for a voice turn its duration and (once Whisper has read it) its caption;
    thumbnails of the frames the model saw and of the attached images or videos."""

    THUMB = QSize(88, 66)
    MAX_ATTACHMENT_THUMBS = 8  # per attachment; a video's other sampled frames are in "Frames used"

    def __init__(
        self,
        *,
        kind: str,
        text: str = "",
        duration_s: float = 0.0,
        frames: Sequence[QImage] = (),
        attachments: Sequence[str] = (),
        attachment_images: Sequence[Sequence[QImage]] = (),
        turn_id: int | None = None,
    ) -> None:
        super().__init__("user", "You")
        self.kind = kind
        self.text = text
        self.turn_id = turn_id
        self.caption = ""
        self.caption_label: QLabel | None = None
        self.attachment_thumbs: list[QLabel] = []
        if kind == "voice":
            self.meta.setText(f"{self.meta.text()} · voice, {duration_s:.1f} s")
            self.setAccessibleName(f"You spoke for {duration_s:.1f} seconds")
        else:
            self.setAccessibleName(f"You wrote: {text}")
        if text:
            label = QLabel(text)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.body.addWidget(label)
        for k, name in enumerate(attachments):
            chip = QLabel(f"Attached: {name}")
            chip.setProperty("role", "muted")
            self.body.addWidget(chip)
            images = attachment_images[k] if k < len(attachment_images) else ()
            if images:
                self._attachment_row(name, images)
        if frames:
            row = QHBoxLayout()
            row.setSpacing(4)
            for k, image in enumerate(frames):
                thumb = QLabel()
                thumb.setPixmap(thumbnail(image, self.THUMB))
                thumb.setAccessibleName(f"Frame {k + 1}")
                row.addWidget(thumb)
            row.addStretch(1)
            self.body.addLayout(row)
            self.frame_count = len(frames)
        else:
            self.frame_count = 0

    def _attachment_row(self, name: str, images: Sequence[QImage]) -> None:
        shown = list(images)
        if len(shown) > self.MAX_ATTACHMENT_THUMBS:  # evenly spread over the video
            step = len(shown) / self.MAX_ATTACHMENT_THUMBS
            shown = [shown[int(k * step)] for k in range(self.MAX_ATTACHMENT_THUMBS)]
        row = QHBoxLayout()
        row.setSpacing(4)
        for k, image in enumerate(shown):
            thumb = QLabel()
            thumb.setPixmap(thumbnail(image, self.THUMB))
            thumb.setAccessibleName(f"{name}, picture {k + 1} of {len(shown)}")
            row.addWidget(thumb)
            self.attachment_thumbs.append(thumb)
        if len(images) > len(shown):
            more = QLabel(f"{len(images)} frames")
            more.setProperty("role", "muted")
            row.addWidget(more)
        row.addStretch(1)
        self.body.addLayout(row)

    def set_caption(self, text: str, language: str) -> None:
        """Show what Whisper heard (it arrives after the answer has started)."""
        self.caption = text
        if self.caption_label is None:
            self.caption_label = QLabel()
            self.caption_label.setWordWrap(True)
            self.caption_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.body.insertWidget(0, self.caption_label)
        self.caption_label.setText(f"“{text}”" if text else "(no words heard)")
        self.caption_label.setToolTip(f"What Whisper heard (language: {language})")
        self.setAccessibleName(f"You said: {text}")

    def plain_text(self) -> str:
        return self.text or self.caption or self.meta.text()


class MarkdownView(QTextBrowser):
    """A read-only markdown view as tall as its content (the transcript scrolls, not the bubble)."""

    def __init__(self) -> None:
        super().__init__()
        self.setOpenExternalLinks(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.document().setDocumentMargin(2)
        self.document().contentsChanged.connect(self.fit_height)

    def fit_height(self) -> None:
        self.document().setTextWidth(self.viewport().width())
        height = int(self.document().size().height()) + 6
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_height()


class AssistantBubble(Bubble):
    """An answer: streams in, renders markdown, highlights the sentence being spoken."""

    def __init__(self, turn_id: int, label: str = "Ola") -> None:
        super().__init__("assistant", label)
        self.turn_id = turn_id
        self.raw = ""
        self._committed_text = ""  # prefix of raw already rendered for good
        self._tail_pos = 0  # document position where the re-rendered tail starts
        self.spoken: str | None = None
        self.finished = False
        self.setAccessibleName("Ola's answer")
        self.status = QLabel("Thinking…")
        self.status.setProperty("role", "muted")
        self.body.addWidget(self.status)
        self.view = MarkdownView()
        self.view.setAccessibleName("Answer text")
        self.view.hide()
        self.body.addWidget(self.view)
        self.footer = QLabel()  # how the answer ended, under the text
        self.footer.setProperty("role", "muted")
        self.footer.hide()
        self.body.addWidget(self.footer)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self.render_text)

    def plain_text(self) -> str:
        return self.raw

    def append(self, text: str) -> None:
        self.raw += text
        if self.status.text() == "Thinking…":
            self.status.hide()
            self.view.show()
        if not self._render_timer.isActive():
            self._render_timer.start()

    def render_text(self) -> None:
        """Render the new text incrementally: finished paragraphs once, only the open tail again.

        Re-parsing the whole answer on every update costs time proportional to its length (tens
        of ms for a long answer on a slow CPU); here a paragraph is parsed once when it is
        complete (a blank line outside a code fence), and the unfinished tail is re-rendered.
        """
        self._render_timer.stop()
        doc = self.view.document()
        if not self.raw.startswith(self._committed_text):  # the text was replaced: start over
            self.view.clear()
            self._committed_text, self._tail_pos = "", 0
        boundary = stable_boundary(self.raw)
        cursor = QTextCursor(doc)
        cursor.beginEditBlock()
        cursor.setPosition(self._tail_pos)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        if boundary > len(self._committed_text):
            self._insert(cursor, self.raw[len(self._committed_text) : boundary])
            self._committed_text = self.raw[:boundary]
            self._tail_pos = doc.characterCount() - 1
        self._insert(cursor, self.raw[boundary:])
        cursor.endEditBlock()
        self.view.fit_height()
        self._apply_highlight()

    def _insert(self, cursor: QTextCursor, markdown: str) -> None:
        if not markdown.strip():
            return
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if cursor.position() > 0:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())  # do not inherit e.g. code style
        start = cursor.position()
        cursor.insertMarkdown(markdown.strip("\n"))
        style_blocks(self.view.document(), start)

    def highlight(self, sentence: str | None) -> None:
        self.spoken = sentence
        self._apply_highlight()

    def highlighted_text(self) -> str:
        selections = self.view.extraSelections()
        return selections[0].cursor.selectedText() if selections else ""

    def _apply_highlight(self) -> None:
        if not self.spoken:
            self.view.setExtraSelections([])
            return
        needle = plain_sentence(self.spoken)
        doc = self.view.document()
        cursor = doc.find(needle) if needle else None
        if (cursor is None or cursor.isNull()) and len(needle) > 24:
            cursor = doc.find(needle[:24])  # rendered line breaks split long sentences
        if cursor is None or cursor.isNull():
            self.view.setExtraSelections([])
            return
        selection = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(theme.current().highlight))
        selection.format = fmt
        selection.cursor = cursor
        self.view.setExtraSelections([selection])

    def finish(self, text: str, outcome: str) -> None:
        self.finished = True
        if text and text != self.raw:
            self.raw = text
        self.spoken = None
        self.render_text()
        self.status.hide()
        self.view.setVisible(bool(self.raw))
        if outcome in ("barge_in", "stopped"):
            self.footer.setText("■ interrupted" if self.raw else "■ stopped before answering")
            self.setAccessibleName("Ola's answer (interrupted)")
        elif outcome == "error":
            self.footer.setText("⚠ the answer did not finish (see the message at the top)")
        elif not self.raw:
            self.footer.setText("(no answer)")
        self.footer.setVisible(bool(self.footer.text()))


class TranscriptView(QScrollArea):
    """The scrolling list of bubbles; follows new content unless the user scrolled up."""

    follow_changed = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName("Conversation")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._new_column()
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range)
        bar.valueChanged.connect(self._on_value)
        self.jump = QToolButton(self.viewport())
        self.jump.setText("↓ Latest")
        self.jump.setAccessibleName("Scroll to the latest message")
        self.jump.clicked.connect(self.scroll_to_end)
        self.jump.hide()
        self.follow_changed.connect(lambda following: self.jump.setVisible(not following))

    def _new_column(self) -> None:
        """An empty column (welcome text only) in a new container widget, shown in the scroll area."""
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(16, 16, 16, 16)
        self.column.setSpacing(10)
        self.placeholder = QLabel(
            "<div style='font-size:x-large; font-weight:600'>Hi! I'm Ola.</div>"
            "<div>Talk to me (click the mic, or hold <b>Space</b>), type a question, "
            "or drop an image, video or audio file here.<br>Share your camera or screen on the left "
            "and ask about what you show.</div>"
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setProperty("role", "muted")
        self._top = QSpacerItem(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)
        self.column.addItem(self._top)  # centres the welcome text; collapses once bubbles exist
        self.column.addWidget(self.placeholder)
        self.column.addStretch(1)
        self.column.setStretch(0, 1)
        self.setWidget(inner)
        self.bubbles: list[Bubble] = []
        self.follow = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        hint = self.jump.sizeHint()
        self.jump.move(
            self.viewport().width() - hint.width() - 16, self.viewport().height() - hint.height() - 12
        )

    def _on_range(self, _lo: int, hi: int) -> None:
        if self.follow:
            self.verticalScrollBar().setValue(hi)

    def _on_value(self, value: int) -> None:
        follow = value >= self.verticalScrollBar().maximum() - 24
        if follow != self.follow:
            self.follow = follow
            self.follow_changed.emit(follow)

    def scroll_to_end(self) -> None:
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
        if not self.follow:
            self.follow = True
            self.follow_changed.emit(True)

    def add(self, bubble: Bubble) -> Bubble:
        if not self.bubbles:
            self.placeholder.hide()
            self._top.changeSize(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            self.column.setStretch(0, 0)
            self.column.invalidate()
        row = QHBoxLayout()
        bubble.setMaximumWidth(760)
        if isinstance(bubble, UserBubble):
            row.addStretch(1)
            row.addWidget(bubble, 4)
        else:
            row.addWidget(bubble, 6)
            row.addStretch(1)
        self.column.insertLayout(self.column.count() - 1, row)
        self.bubbles.append(bubble)
        return bubble

    def user(self, turn_id: int) -> UserBubble | None:
        for bubble in reversed(self.bubbles):
            if isinstance(bubble, UserBubble) and bubble.turn_id == turn_id:
                return bubble
        return None

    def show_caption(self, event: UserCaption) -> None:
        """A ``UserCaption``: the words go into that turn's bubble (if it is still shown)."""
        bubble = self.user(event.turn_id)
        if bubble is not None:
            bubble.set_caption(event.text, event.language)

    def answer(self, turn_id: int) -> AssistantBubble | None:
        for bubble in reversed(self.bubbles):
            if isinstance(bubble, AssistantBubble) and bubble.turn_id == turn_id:
                return bubble
        return None

    def clear(self) -> None:
        """Show an empty conversation: the whole column is swapped for a new one.

        Why not take the rows out one by one: PySide keeps Python wrappers of the layout items
        it saw (``addWidget`` registers them for ownership) and is not told when Qt deletes an
        item whose widget left the layout; such a stale wrapper is later handed out for a new
        object at the same address (a crash, or an event filter called with a QWidgetItem).
        Deleting the container once, by Qt and after the current event, drops its widgets,
        layouts and their wrappers together.
        """
        followed, old = self.follow, self.takeWidget()
        self._new_column()
        if old is not None:
            old.hide()
            old.setParent(self)  # Qt owns it until its deferred deletion: deleted once, by Qt
            old.deleteLater()
        if not followed:
            self.follow_changed.emit(True)
