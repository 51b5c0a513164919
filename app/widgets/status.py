"""Status row: state pill, mic level meter, Stop, the latency HUD of the last turn, the model."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QStatusBar, QToolButton, QWidget

from app import theme
from app.icons import icon
from ola_core import model_store
from ola_core.events import StateChanged
from ola_core.trace import TurnTrace


def pill_for(
    event: StateChanged | None, load_fraction: float | None = None, mic_ok: bool = True
) -> tuple[str, str]:
    """(key, text) of the pill for an assistant state; keys index :func:`app.theme.pill_color`."""
    if event is None or event.state == "loading":
        pct = f" {load_fraction:.0%}" if load_fraction is not None else "…"
        return "loading", f"Loading model{pct}"
    if event.state == "error":
        return "error", "Error"
    if event.state == "listening":
        return "hearing", "Hearing you"
    if event.state == "thinking":
        return "thinking", "Thinking"
    if event.state == "speaking":
        return "speaking", "Speaking"
    if event.muted:
        return "muted", "Muted"
    if not mic_ok:
        return "error", "No microphone"
    if event.hands_free:
        return "listening", "Listening"
    return "idle", "Ready — hold Space to talk"


class StatePill(QLabel):
    def __init__(self) -> None:
        super().__init__()
        self.setAccessibleName("Assistant state")
        self.key = ""
        self.set_state("loading", "Loading model…")

    def set_state(self, key: str, text: str) -> None:
        self.key = key
        self.setText(text)
        color = theme.pill_color(key, theme.current())
        self.setStyleSheet(
            f"background: {color}; color: white; border-radius: 11px; padding: 3px 12px; font-weight: 600;"
        )
        self.setAccessibleDescription(text)


class LevelMeter(QWidget):
    """Microphone level in dBFS mapped to a bar (−60 dB … 0 dB), with a peak tick."""

    FLOOR_DB = -60.0

    def __init__(self) -> None:
        super().__init__()
        self.setFixedSize(110, 12)
        self.setAccessibleName("Microphone level")
        self.level = 0.0
        self.peak = 0.0

    def set_level(self, rms_dbfs: float, peak_dbfs: float) -> None:
        self.level = min(1.0, max(0.0, 1.0 - rms_dbfs / self.FLOOR_DB))
        self.peak = min(1.0, max(0.0, 1.0 - peak_dbfs / self.FLOOR_DB))
        self.setAccessibleDescription(f"{rms_dbfs:.0f} dBFS")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = theme.current()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(QColor(colors.border))
        p.setBrush(QColor(colors.surface_alt))
        p.drawRoundedRect(r, 5, 5)
        if self.level > 0:
            fill = QRectF(r.x(), r.y(), r.width() * self.level, r.height())
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(colors.success if self.level < 0.85 else colors.danger))
            p.drawRoundedRect(fill, 5, 5)
        if self.peak > 0:
            x = r.x() + r.width() * self.peak
            p.setPen(QColor(colors.text))
            p.drawLine(int(x), int(r.top()) + 2, int(x), int(r.bottom()) - 2)
        p.end()


def hud_summary(trace: TurnTrace) -> str:
    """The compact line: end of the question → first token → first audio, tok/s, memory."""
    start = trace.t_endpoint if trace.t_endpoint is not None else trace.t_turn_start
    parts = []
    if start is not None and trace.t_first_token is not None:
        parts.append(f"first token {trace.t_first_token - start:.2f} s")
    heard = trace.t_first_played or trace.t_first_audio
    if start is not None and heard is not None:
        parts.append(f"first audio {heard - start:.2f} s")
    if trace.tokens_per_s:
        parts.append(f"{trace.tokens_per_s:.1f} tok/s")
    if trace.peak_memory_bytes:
        parts.append(f"{trace.peak_memory_bytes / 1e9:.1f} GB")
    return "Last turn: " + (" · ".join(parts) if parts else "no timings")


def hud_details(trace: TurnTrace) -> str:
    """The expanded view: every stage of the trace, as an HTML table."""
    stages = "".join(
        f"<tr><td>{name}</td><td align='right'>{seconds * 1000:.0f} ms</td></tr>"
        for name, seconds in trace.stages().items()
    )
    extra = [
        ("outcome", trace.outcome),
        ("mouth → ear", f"{trace.mouth_to_ear_s:.2f} s" if trace.mouth_to_ear_s is not None else "—"),
        ("prompt tokens", trace.prompt_tokens if trace.prompt_tokens is not None else "—"),
        ("new tokens", trace.new_tokens),
        ("frames used", trace.frames_used),
        ("speech", f"{trace.speech_s:.1f} s"),
    ]
    if trace.speculation:
        extra.append(("speculative start", trace.speculation_summary()))
    if trace.endpoint_wait_ms is not None:
        extra.append(("end-of-turn wait", f"{trace.endpoint_wait_ms:.0f} ms"))
    facts = "".join(f"<tr><td>{k}</td><td align='right'>{v}</td></tr>" for k, v in extra)
    return (  # two tables side by side keep the panel short
        f"<b>Turn {trace.turn_id} ({trace.kind})</b><table><tr>"
        f"<td valign='top'><table cellspacing='3'>{stages}</table></td><td width='32'></td>"
        f"<td valign='top'><table cellspacing='3'>{facts}</table></td></tr></table>"
    )


class LatencyHud(QToolButton):
    """The compact HUD; clicking it (or Enter) expands the full trace."""

    details_toggled = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self.setCheckable(True)
        self.setProperty("role", "link")
        self.setAccessibleName("Latency of the last turn (click for the full trace)")
        self.setText("Last turn: —")
        self.setIcon(icon("timer", theme.current().muted_text, 16))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.trace: TurnTrace | None = None
        self.toggled.connect(self.details_toggled)

    def show_trace(self, trace: TurnTrace) -> None:
        self.trace = trace
        self.setText(hud_summary(trace))
        self.setToolTip(hud_details(trace))


class StatusRow:
    """The widgets of the window's status bar; every one keeps its full text at the default size."""

    def __init__(self, bar: QStatusBar) -> None:
        bar.setSizeGripEnabled(False)
        self.pill = StatePill()
        bar.addWidget(self.pill)
        self.meter = LevelMeter()
        bar.addWidget(self.meter)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setIcon(icon("stop", "#d23c3c", 16))
        self.stop_button.setProperty("role", "danger")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.setAccessibleName("Stop the answer")
        self.stop_button.setEnabled(False)
        self.stop_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        bar.addWidget(self.stop_button)
        self.hud = LatencyHud()
        bar.addWidget(self.hud)
        self.model_label = QLabel()
        self.model_label.setAccessibleName("Model in use")
        bar.addPermanentWidget(self.model_label)

    def show_model(self, files: model_store.ModelFiles | None) -> None:
        """The model in use; the interface-test model short and marked (its full label is the tooltip)."""
        if files is None:
            text, tip, style = "No model yet (Model menu → Set up model)", "", ""
        elif files.is_test_model:
            text, tip = "⚠ Test model (random weights)", model_store.TEST_MODEL_LABEL
            style = "color: #b7791f; font-weight: 600;"
        else:
            text, tip, style = files.label, "", ""
        self.model_label.setText(text)
        self.model_label.setToolTip(tip)
        self.model_label.setStyleSheet(style)
