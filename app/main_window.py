"""The main window: vision panel | transcript + input row, banners on top, status row below.

It owns no logic of the conversation: commands go to the Assistant's methods (they only queue
work and return at once), and everything shown comes from the Assistant's events through
:class:`~app.bridge.AssistantBridge` on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
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
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.bridge import AssistantBridge, AssistantLike, Region
from app.conversation import TranscriptEntry, TranscriptRecord
from app.devices import DeviceLists
from app.menus import build_menus
from app.push_to_talk import SpaceToTalk
from app.widgets.banner import ACTION_TEXT, SETTINGS_TAB, BannerArea
from app.widgets.input_row import InputRow
from app.widgets.region import RegionSelector
from app.widgets.status import StatusRow, hud_details, pill_for
from app.widgets.transcript import AssistantBubble, TranscriptView, UserBubble
from app.widgets.vision_panel import VisionPanel
from ola_core import events as ev
from ola_core import model_store
from ola_core.errors import OlaError
from ola_core.settings import Settings

log = logging.getLogger(__name__)

APP_NAME = "Ola Assistant"


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
        remember_hands_free: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__()
        self.assistant = assistant
        self.settings = settings or Settings()
        self.model_files = model_files
        self.conversation = TranscriptRecord()
        self._open_settings = open_settings
        self._open_setup = open_setup
        self._open_about = open_about
        self._remember_hands_free = remember_hands_free  # saves a choice made outside the settings dialog
        self._state: ev.StateChanged | None = None
        self._load_fraction: float | None = None
        self._ptt_held = False
        self._mic_ok = True
        self._assistant_state: str | None = None  # the assistant's own state when it was attached
        self.pending_questions: list[str] = []  # typed while the model loads: sent once it has
        self.setWindowTitle(APP_NAME)
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

        self.status_row = StatusRow(self.statusBar())
        row = self.status_row
        self.pill, self.meter, self.stop_button, self.hud = row.pill, row.meter, row.stop_button, row.hud
        self.model_label = row.model_label
        self.stop_button.clicked.connect(self.stop)
        self.hud.details_toggled.connect(self._toggle_trace)
        self.show_model(model_files)

        menus = build_menus(self, self)
        self.camera_action, self.screen_action, self.mute_action = menus.camera, menus.screen, menus.mute
        self._show_camera_availability()
        self.input.send_requested.connect(self.send_text)
        self.input.attach_requested.connect(self.attach_files)
        self.input.clear_attachments_requested.connect(self.clear_attachments)
        self.input.hands_free_toggled.connect(self.set_hands_free)
        self.vision.source_requested.connect(self.set_source)
        self.vision.region_requested.connect(self.pick_region)
        self.region_selector: RegionSelector | None = None

        self.bridge = AssistantBridge(self)
        self._connect_bridge()
        self.set_assistant(assistant)
        self.input.set_hands_free(self.settings.audio.hands_free)
        self.space = SpaceToTalk(self._space_talks, self)
        self.space.held.connect(self.push_to_talk)
        self.space.install()
        self.input.box.setFocus()

    def set_assistant(self, assistant: AssistantLike | None) -> None:
        """Show (and command) this assistant; events start flowing at once."""
        self.assistant = assistant
        if assistant is None:
            self.bridge.detach()
            self.vision.set_frame_provider(None)
            self.pill.set_state("idle", "No model loaded")
            return
        self._assistant_state = assistant.state  # events only tell of changes from now on
        self.bridge.attach(assistant.subscribe)
        self.vision.set_frame_provider(assistant.preview_frame)
        self.pill.set_state(*pill_for(None))

    def set_devices(self, devices: DeviceLists) -> None:
        self.devices = devices
        self.vision.set_devices(devices.camera, devices.monitor)
        self._show_camera_availability()

    def _show_camera_availability(self) -> None:
        """Ctrl+K does nothing useful without a camera: say so instead of offering it."""
        found = bool(self.devices.camera)
        self.camera_action.setEnabled(found)
        self.camera_action.setText("Toggle &camera" if found else "Toggle camera (no camera found)")

    # --- commands ------------------------------------------------------------------------------
    def _command(self, command: Callable[[AssistantLike], None], problem_area: str = "internal") -> None:
        """Give the assistant one command; its user-facing errors become banners, never tracebacks."""
        if self.assistant is None:
            self.banners.show_message(
                "No model is loaded yet.", action=(ACTION_TEXT["model"], self.open_setup)
            )
            return
        try:
            command(self.assistant)
        except OlaError as error:
            self.show_problem(problem_area, str(error))

    def send_text(self, text: str) -> None:
        """Send a typed question; while the model loads (or none is set up yet) keep it for later."""
        if self._model_ready():
            self._command(lambda assistant: assistant.send_text(text))
            return
        self.pending_questions.append(text)
        self.input.show_pending(self.pending_questions)
        if self.assistant is None:
            self.banners.show_message(
                "No model is loaded yet: your question is kept and sent once one is.",
                action=(ACTION_TEXT["model"], self.open_setup),
                cause="model",
            )

    def _model_ready(self) -> bool:
        if self.assistant is None:
            return False
        state = self._state.state if self._state is not None else self._assistant_state
        return state not in ("loading", "error")

    def _send_pending(self) -> None:
        if not self._model_ready():
            return
        questions, self.pending_questions = self.pending_questions, []
        self.input.show_pending([])
        for text in questions:
            self.send_text(text)

    def set_hands_free(self, on: bool) -> None:
        self._command(lambda assistant: assistant.set_hands_free(on))
        if self._remember_hands_free is not None:
            self._remember_hands_free(on)

    def set_source(self, kind: ev.SourceKind, index: int, region: Region | None = None) -> None:
        self._command(lambda assistant: assistant.set_source(kind, index, region))

    def attach_files(self, paths: Sequence[Path]) -> None:
        for path in paths:
            self.attach_file(Path(path))

    def attach_file(self, path: Path) -> None:
        self._command(lambda assistant: assistant.attach(path), problem_area="media")

    def clear_attachments(self) -> None:
        self._command(lambda assistant: assistant.clear_attachments())

    def stop(self) -> None:
        if self.assistant is not None:
            self.assistant.stop()

    def new_conversation(self) -> None:
        self._command(lambda assistant: assistant.reset())
        self._forget_conversation()
        self.vision.strip.set_frames([])

    def _forget_conversation(self, _event: ev.ConversationReset | None = None) -> None:
        self.transcript.clear()
        self.conversation.clear()

    def toggle_camera(self) -> None:
        if self.vision.kind == "camera":
            self.set_source("off", 0)
            return
        listed = [index for index, _name in self.devices.camera]
        if not listed:
            return
        wanted = self.settings.vision.camera
        self.set_source("camera", wanted if wanted in listed else listed[0])

    def toggle_screen(self) -> None:
        self.set_source("off" if self.vision.kind == "screen" else "screen", self.settings.vision.monitor)

    def toggle_mute(self) -> None:
        muted = not (self._state.muted if self._state else False)
        self._command(lambda assistant: assistant.set_muted(muted))

    def pick_region(self, monitor: int) -> None:
        """Let the user drag out the part of screen ``monitor`` (mss numbering) to share."""
        screens = QGuiApplication.screens()
        screen = screens[min(max(monitor - 1, 0), len(screens) - 1)]
        self.region_selector = RegionSelector(screen)
        self.region_selector.selected.connect(lambda region: self.set_source("screen", monitor, region))
        self.region_selector.cancelled.connect(
            lambda: self.vision.show_source(self.vision.kind, self.vision.index)
        )
        self.region_selector.showFullScreen()

    def open_settings(self, tab: int = 0) -> None:
        if self._open_settings is not None:
            self._open_settings(tab)

    def open_setup(self) -> None:
        if self._open_setup is not None:
            self._open_setup()

    def open_about(self) -> None:
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
        b.user_caption.connect(self.transcript.show_caption)
        b.user_caption.connect(self.conversation.set_caption)
        b.text_delta.connect(self.on_delta)
        b.sentence_spoken.connect(self.on_sentence)
        b.turn_finished.connect(self.on_turn_finished)
        b.warning.connect(lambda e: self.show_problem(e.area, e.message, level="warning"))
        b.error.connect(self.on_error)
        b.load_progress.connect(self.on_load_progress)
        b.model_loaded.connect(self.on_model_loaded)
        b.device_event.connect(self.on_device)
        b.source_changed.connect(self.on_source)
        b.attachments_changed.connect(lambda e: self.input.show_attachments(e.paths))
        b.conversation_reset.connect(self._forget_conversation)

    def on_state(self, event: ev.StateChanged) -> None:
        self._state = event
        if event.state not in ("loading", "error"):
            self._send_pending()
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
        self.banners.clear("model")

    def on_user_turn(self, event: ev.UserTurnCaptured) -> None:
        images, attached = self.vision.show_turn_frames(event.frames, event.attachment_frames)
        names = [p.name for p in event.attachments]
        self.transcript.add(
            UserBubble(
                kind=event.kind,
                text=event.text,
                duration_s=event.duration_s,
                frames=images,
                attachments=names,
                attachment_images=attached,
                turn_id=event.turn_id,
            )
        )
        self.conversation.add(
            TranscriptEntry(
                "user",
                event.turn_id,
                event.text,
                event.kind,
                event.duration_s,
                images + [image for group in attached for image in group],
                event.frames_kind,
                names,
            )
        )
        self.transcript.add(AssistantBubble(event.turn_id, self._assistant_name()))
        self.conversation.add(TranscriptEntry("assistant", event.turn_id))

    def _assistant_name(self) -> str:
        if self.model_files is not None and self.model_files.is_test_model:
            return "Ola (interface-test model)"
        return "Ola"

    def _bubble(self, turn_id: int) -> AssistantBubble:
        bubble = self.transcript.answer(turn_id)
        if bubble is None:  # a turn we did not see start (e.g. subscribed late)
            bubble = AssistantBubble(turn_id, self._assistant_name())
            self.transcript.add(bubble)
            self.conversation.add(TranscriptEntry("assistant", turn_id))
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
        else:
            self.vision.show_available(event.available)
        if event.available:
            self.banners.clear(event.kind)  # its cause is fixed
        else:
            self.show_problem(event.kind, event.message or f"{event.name} disconnected.")

    def on_source(self, event: ev.SourceChanged) -> None:
        self.vision.show_source(event.kind, event.index)
        for kind in ("camera", "screen"):  # a source no longer in use has no problem to show
            if event.kind != kind:
                self.banners.clear(kind)

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
            action = (ACTION_TEXT["model"], self.open_setup)
        elif text is not None:
            action = (text, lambda: self.open_settings(SETTINGS_TAB.get(area, 0)))
        self.banners.show_message(
            message, level=level, action=action, timeout_ms=12000 if level == "warning" else 0, cause=area
        )

    def show_model(self, files: model_store.ModelFiles | None) -> None:
        self.model_files = files
        self.status_row.show_model(files)
        # The platform appends the application's display name to any other title.
        self.setWindowTitle(
            "Interface-test model (random weights)" if files and files.is_test_model else APP_NAME
        )

    def _toggle_trace(self, on: bool) -> None:
        self.trace_panel.setVisible(on and self.hud.trace is not None)

    # --- keyboard and drops --------------------------------------------------------------------
    def _space_talks(self) -> bool:
        """Space is push-to-talk unless the focused control uses Space.

        Text fields type it and a button reached with Tab is pressed by it (keyboard users rely
        on that); buttons take focus only from Tab, so after a mouse click Space still talks.
        """
        focus = QApplication.focusWidget()
        typing = isinstance(
            focus, QPlainTextEdit | QLineEdit | QComboBox | QAbstractButton | QAbstractSpinBox
        )
        return self.isActiveWindow() and not typing

    def push_to_talk(self, down: bool) -> None:
        if down == self._ptt_held:
            return
        self._ptt_held = down
        self.input.show_push_to_talk(down)
        self._command(lambda assistant: assistant.push_to_talk(down))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.attach_files(paths)
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.space.remove()
        self.bridge.detach()
        if self.assistant is not None:
            self.assistant.shutdown(timeout=5.0)
        super().closeEvent(event)
