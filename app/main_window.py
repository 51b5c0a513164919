"""The main window: vision panel | transcript + input row, banners on top, status row below.

It owns no logic of the conversation: commands go to the Assistant's methods (they only queue
work and return at once), and everything shown comes from the Assistant's events through
:class:`~app.bridge.AssistantBridge` on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.bridge import AssistantBridge
from app.conversation import Conversation, Message
from app.devices import DeviceLists
from app.icons import icon
from app.widgets.banner import BannerArea
from app.widgets.input_row import InputRow
from app.widgets.region import RegionSelector
from app.widgets.status import LatencyHud, LevelMeter, StatePill, hud_details, pill_for
from app.widgets.transcript import AssistantBubble, TranscriptView, UserBubble
from app.widgets.vision_panel import VisionPanel
from ola_core import events as ev
from ola_core import model_store
from ola_core.capture.frames import TimedFrame
from ola_core.errors import OlaError
from ola_core.settings import Settings

log = logging.getLogger(__name__)


class AssistantLike(Protocol):
    """The part of :class:`ola_core.assistant.Assistant` the window uses."""

    def subscribe(self, callback: ev.Subscriber) -> Callable[[], None]: ...
    def send_text(self, text: str) -> None: ...
    def attach(self, path: str | Path) -> None: ...
    def clear_attachments(self) -> None: ...
    def push_to_talk(self, down: bool) -> None: ...
    def set_hands_free(self, on: bool) -> None: ...
    def stop(self) -> None: ...
    def set_muted(self, muted: bool) -> None: ...
    def reset(self) -> None: ...
    def set_source(self, kind: Any, index: int = 0, region: Any = None) -> None: ...
    def apply_settings(self, settings: Settings) -> None: ...
    def preview_frame(self) -> TimedFrame | None: ...
    def shutdown(self, timeout: float = 10.0) -> None: ...


# What a banner offers, by the area of the problem (ola_core.events.ProblemArea).
ACTION_TEXT = {
    "microphone": "Choose another microphone",
    "speaker": "Choose another speaker",
    "camera": "Choose another camera",
    "screen": "Choose another screen",
    "model": "Set up the model",
    "settings": "Open settings",
    "generation": "Open settings",
    "synthesis": "Voice settings",
}
SETTINGS_TAB = {"microphone": 1, "speaker": 1, "synthesis": 2, "camera": 3, "screen": 3, "generation": 4}


class MainWindow(QMainWindow):
    def __init__(
        self,
        assistant: AssistantLike | None = None,
        *,
        settings: Settings | None = None,
        model_files: model_store.ModelFiles | None = None,
        devices: DeviceLists | None = None,
        open_settings: Callable[[int], None] | None = None,
        open_setup: Callable[[], None] | None = None,
        open_about: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.assistant = assistant
        self.settings = settings or Settings()
        self.model_files = model_files
        self.conversation = Conversation()
        self._open_settings = open_settings
        self._open_setup = open_setup
        self._open_about = open_about
        self._state: ev.StateChanged | None = None
        self._load_fraction: float | None = None
        self._ptt_held = False
        self._mic_ok = True
        self.setWindowTitle("Ola Assistant")
        self.setAcceptDrops(True)
        self.resize(1180, 760)

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.banners = BannerArea()
        outer.addWidget(self.banners)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(12, 12, 6, 12)
        self.devices = devices or DeviceLists(camera=[(0, "Camera 1")], monitor=[(1, "Screen 1")])
        self.vision = VisionPanel(self.devices.camera, self.devices.monitor)
        left_layout.addWidget(self.vision)
        splitter.addWidget(left)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        right_layout.setSpacing(0)
        self.transcript = TranscriptView()
        right_layout.addWidget(self.transcript, 1)
        self.trace_panel = QFrame()
        self.trace_panel.setProperty("role", "card")
        trace_layout = QVBoxLayout(self.trace_panel)
        self.trace_label = QLabel()
        self.trace_label.setAccessibleName("Full latency trace of the last turn")
        self.trace_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        trace_layout.addWidget(self.trace_label)
        self.trace_panel.hide()
        right_layout.addWidget(self.trace_panel)
        self.input = InputRow()
        right_layout.addWidget(self.input)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([440, 740])
        outer.addWidget(splitter, 1)
        self.setCentralWidget(central)

        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.pill = StatePill()
        status.addWidget(self.pill)
        self.meter = LevelMeter()
        status.addWidget(self.meter)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setIcon(icon("stop", "#d23c3c", 16))
        self.stop_button.setProperty("role", "danger")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.setAccessibleName("Stop the answer")
        self.stop_button.setEnabled(False)
        self.stop_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.stop_button.clicked.connect(self.stop)
        status.addWidget(self.stop_button)
        self.hud = LatencyHud()
        self.hud.details_toggled.connect(self._toggle_trace)
        status.addWidget(self.hud)
        self.model_label = QLabel()
        self.model_label.setAccessibleName("Model in use")
        status.addPermanentWidget(self.model_label)
        self.show_model(model_files)

        self._build_menus()
        self.input.send_requested.connect(self.send_text)
        self.input.attach_requested.connect(self.attach_files)
        self.input.clear_attachments_requested.connect(lambda: self._call("clear_attachments"))
        self.input.hands_free_toggled.connect(lambda on: self._call("set_hands_free", on))
        self.vision.source_requested.connect(lambda kind, index: self._call("set_source", kind, index))
        self.vision.region_requested.connect(self.pick_region)
        self.region_selector: RegionSelector | None = None

        self.bridge = AssistantBridge(self)
        self._connect_bridge()
        self.set_assistant(assistant)
        self.input.set_hands_free(self.settings.audio.hands_free)
        QApplication.instance().installEventFilter(self)  # type: ignore[union-attr]
        self.input.box.setFocus()

    def set_assistant(self, assistant: AssistantLike | None) -> None:
        """Show (and command) this assistant; events start flowing at once."""
        self.assistant = assistant
        if assistant is None:
            self.bridge.detach()
            self.vision.set_frame_provider(None)
            self.pill.set_state("idle", "No model loaded")
            return
        self.bridge.attach(assistant.subscribe)
        self.vision.set_frame_provider(assistant.preview_frame)
        self.pill.set_state(*pill_for(None))

    def set_devices(self, devices: DeviceLists) -> None:
        self.devices = devices
        self.vision.set_devices(devices.camera, devices.monitor)

    # --- menus ---------------------------------------------------------------------------------
    def _action(self, menu: Any, text: str, slot: Callable[[], None], shortcut: str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        conv = bar.addMenu("&Conversation")
        self._action(conv, "&New conversation", self.new_conversation, "Ctrl+N")
        self._action(conv, "&Export…", self.export_dialog, "Ctrl+E")
        conv.addSeparator()
        self._action(conv, "&Quit", self.close, "Ctrl+Q")
        share = bar.addMenu("&Share")
        self.camera_action = self._action(share, "Toggle &camera", self.toggle_camera, "Ctrl+K")
        self.screen_action = self._action(share, "Toggle &screen", self.toggle_screen, "Ctrl+Shift+S")
        share.addSeparator()
        self.mute_action = self._action(share, "&Mute microphone", self.toggle_mute, "Ctrl+M")
        self.mute_action.setCheckable(True)
        stop = QAction("Stop", self)
        stop.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        stop.triggered.connect(self.stop)
        self.addAction(stop)
        model = bar.addMenu("&Model")
        self._action(model, "&Set up model…", self._setup, None)
        self._action(model, "&Settings…", lambda: self.open_settings(0), "Ctrl+,")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About Ola Assistant", self._about, None)

    # --- commands ------------------------------------------------------------------------------
    def _call(self, method: str, *args: Any) -> bool:
        """Call an assistant command; its user-facing errors become banners, never tracebacks."""
        if self.assistant is None:
            self.banners.show_message("No model is loaded yet.", action=(ACTION_TEXT["model"], self._setup))
            return False
        try:
            getattr(self.assistant, method)(*args)
        except OlaError as error:
            self.show_problem("media" if method == "attach" else "internal", str(error))
            return False
        return True

    def send_text(self, text: str) -> None:
        self._call("send_text", text)

    def attach_files(self, paths: Sequence[Path]) -> None:
        for path in paths:
            self._call("attach", Path(path))

    def stop(self) -> None:
        if self.assistant is not None:
            self.assistant.stop()

    def new_conversation(self) -> None:
        self._call("reset")
        self.transcript.clear()
        self.conversation.clear()
        self.vision.strip.set_frames([])

    def toggle_camera(self) -> None:
        self._call(
            "set_source", "off" if self.vision.kind == "camera" else "camera", self.settings.vision.camera
        )

    def toggle_screen(self) -> None:
        self._call(
            "set_source", "off" if self.vision.kind == "screen" else "screen", self.settings.vision.monitor
        )

    def toggle_mute(self) -> None:
        muted = not (self._state.muted if self._state else False)
        self._call("set_muted", muted)

    def pick_region(self, monitor: int) -> None:
        """Let the user drag out the part of screen ``monitor`` (mss numbering) to share."""
        screens = QGuiApplication.screens()
        screen = screens[min(max(monitor - 1, 0), len(screens) - 1)]
        self.region_selector = RegionSelector(screen)
        self.region_selector.selected.connect(
            lambda region: self._call("set_source", "screen", monitor, region)
        )
        self.region_selector.cancelled.connect(
            lambda: self.vision.show_source(self.vision.kind, self.vision.index)
        )
        self.region_selector.showFullScreen()

    def open_settings(self, tab: int = 0) -> None:
        if self._open_settings is not None:
            self._open_settings(tab)

    def _setup(self) -> None:
        if self._open_setup is not None:
            self._open_setup()

    def _about(self) -> None:
        if self._open_about is not None:
            self._open_about()

    def export_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export conversation", "conversation.md", "Markdown with frames (*.md);;JSON (*.json)"
        )
        if path:
            if not Path(path).suffix:
                path += ".json" if "JSON" in chosen else ".md"
            self.export_to(Path(path))

    def export_to(self, path: Path) -> Path:
        try:
            return (
                self.conversation.to_json(path)
                if path.suffix == ".json"
                else self.conversation.to_markdown(path)
            )
        except OSError as error:
            self.show_problem("settings", f"Could not write {path}: {error.strerror or error}.")
            return path

    # --- what the assistant tells us -----------------------------------------------------------
    def _connect_bridge(self) -> None:
        b = self.bridge
        b.state_changed.connect(self.on_state)
        b.input_level.connect(lambda e: self.meter.set_level(e.rms_dbfs, e.peak_dbfs))
        b.user_turn.connect(self.on_user_turn)
        b.text_delta.connect(self.on_delta)
        b.sentence_spoken.connect(self.on_sentence)
        b.turn_finished.connect(self.on_turn_finished)
        b.warning.connect(lambda e: self.show_problem(e.area, e.message, level="warning"))
        b.error.connect(self.on_error)
        b.load_progress.connect(self.on_load_progress)
        b.model_loaded.connect(self.on_model_loaded)
        b.device_event.connect(self.on_device)
        b.source_changed.connect(lambda e: self.vision.show_source(e.kind, e.index))
        b.attachments_changed.connect(lambda e: self.input.show_attachments(e.paths))
        b.conversation_reset.connect(lambda _e: (self.transcript.clear(), self.conversation.clear()))

    def on_state(self, event: ev.StateChanged) -> None:
        self._state = event
        self.pill.set_state(*pill_for(event, self._load_fraction, self._mic_ok))
        self.stop_button.setEnabled(event.state in ("listening", "thinking", "speaking"))
        self.input.set_hands_free(event.hands_free)
        self.mute_action.setChecked(event.muted)
        if event.muted or event.state not in ("idle", "listening"):
            self.meter.set_level(-100.0, -100.0)

    def on_load_progress(self, event: ev.ModelLoadProgress) -> None:
        self._load_fraction = event.fraction
        self.pill.set_state("loading", f"Loading model {event.fraction:.0%}")
        self.pill.setToolTip(event.stage)

    def on_model_loaded(self, event: ev.ModelLoaded) -> None:
        self._load_fraction = None
        if self.model_files is None or not self.model_files.is_test_model:
            self.model_label.setText(event.description)
        self.pill.setToolTip(f"Loaded in {event.load_s:.1f} s")

    def on_user_turn(self, event: ev.UserTurnCaptured) -> None:
        images = self.vision.show_turn_frames(event.frames) if event.frames else []
        names = [p.name for p in event.attachments]
        self.transcript.add(
            UserBubble(
                kind=event.kind,
                text=event.text,
                duration_s=event.duration_s,
                frames=images,
                attachments=names,
            )
        )
        self.conversation.add(
            Message(
                "user",
                event.turn_id,
                event.text,
                event.kind,
                event.duration_s,
                images,
                event.frames_kind,
                names,
            )
        )
        self.transcript.add(AssistantBubble(event.turn_id, self._assistant_name()))
        self.conversation.add(Message("assistant", event.turn_id))

    def _assistant_name(self) -> str:
        if self.model_files is not None and self.model_files.is_test_model:
            return "Ola (interface-test model)"
        return "Ola"

    def _bubble(self, turn_id: int) -> AssistantBubble:
        bubble = self.transcript.answer(turn_id)
        if bubble is None:  # a turn we did not see start (e.g. subscribed late)
            bubble = AssistantBubble(turn_id, self._assistant_name())
            self.transcript.add(bubble)
            self.conversation.add(Message("assistant", turn_id))
        return bubble

    def on_delta(self, event: ev.AssistantTextDelta) -> None:
        self._bubble(event.turn_id).append(event.text)

    def on_sentence(self, event: ev.SentenceSpoken) -> None:
        self._bubble(event.turn_id).highlight(event.text)

    def on_turn_finished(self, event: ev.TurnFinished) -> None:
        self._bubble(event.turn_id).finish(event.text, event.outcome)
        message = self.conversation.answer(event.turn_id)
        if message is not None:
            message.text = event.text
            message.interrupted = event.interrupted
            message.trace = event.trace.to_dict()
        self.hud.show_trace(event.trace)
        self.trace_label.setText(hud_details(event.trace))

    def on_device(self, event: ev.DeviceEvent) -> None:
        if event.kind == "microphone":
            self._set_mic_ok(event.available)
        if not event.available:
            self.show_problem(event.kind, event.message or f"{event.name} disconnected.")

    def on_error(self, event: ev.ErrorRaised) -> None:
        if event.area == "microphone":
            self._set_mic_ok(False)
        self.show_problem(event.area, event.message)

    def _set_mic_ok(self, ok: bool) -> None:
        self._mic_ok = ok
        if self._state is not None:
            self.pill.set_state(*pill_for(self._state, self._load_fraction, ok))

    def show_problem(self, area: str, message: str, level: str = "error") -> None:
        text = ACTION_TEXT.get(area)
        action: tuple[str, Callable[[], None]] | None = None
        if area == "model":
            action = (ACTION_TEXT["model"], self._setup)
        elif text is not None:
            action = (text, lambda: self.open_settings(SETTINGS_TAB.get(area, 0)))
        self.banners.show_message(
            message, level=level, action=action, timeout_ms=12000 if level == "warning" else 0
        )

    def show_model(self, files: model_store.ModelFiles | None) -> None:
        self.model_files = files
        if files is None:
            self.model_label.setText("No model — Model → Set up…")
            self.setWindowTitle("Ola Assistant")
        elif files.is_test_model:
            self.model_label.setText("⚠ " + model_store.TEST_MODEL_LABEL)
            self.model_label.setStyleSheet("color: #b7791f; font-weight: 600;")
            self.setWindowTitle("Ola Assistant — interface-test model (random weights)")
        else:
            self.model_label.setText(files.label)
            self.model_label.setStyleSheet("")
            self.setWindowTitle("Ola Assistant")

    def _toggle_trace(self, on: bool) -> None:
        self.trace_panel.setVisible(on and self.hud.trace is not None)

    # --- keyboard and drops --------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Hold Space = push-to-talk (key repeats ignored), unless the focused control uses Space.

        Text fields type it and a button reached with Tab is pressed by it (keyboard users rely
        on that); buttons take focus only from Tab, so after a mouse click Space still talks.
        """
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and self.isActiveWindow():
            key_event: QKeyEvent = event  # type: ignore[assignment]
            if key_event.key() == Qt.Key.Key_Space and not key_event.modifiers() and not self._typing():
                if not key_event.isAutoRepeat():
                    self.push_to_talk(kind == QEvent.Type.KeyPress)
                return True
        return super().eventFilter(watched, event)

    def _typing(self) -> bool:
        focus = QApplication.focusWidget()
        return isinstance(focus, QPlainTextEdit | QLineEdit | QComboBox | QAbstractButton | QAbstractSpinBox)

    def push_to_talk(self, down: bool) -> None:
        if down == self._ptt_held:
            return
        self._ptt_held = down
        self.input.show_push_to_talk(down)
        self._call("push_to_talk", down)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.attach_files(paths)
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:
        QApplication.instance().removeEventFilter(self)  # type: ignore[union-attr]
        self.bridge.detach()
        if self.assistant is not None:
            self.assistant.shutdown(timeout=5.0)
        super().closeEvent(event)
