"""Booth mode's wiring: the assistant with the operator's guard rails, the kiosk window, the timers.

:class:`BoothController` connects the assistant's events (through the bridge, on the GUI thread)
to the window and the :class:`~ola_core.booth.session.BoothSession`, and runs three timers: the
session tick (idle reset, turn length; 1 s), the camera (preview and person detection on the
attract screen; 0.4 s) and the heartbeat (the health file the watchdog watches). The model is
loaded once and stays loaded between visitors: a reset only starts a new conversation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from app import theme
from app.booth.screens import make_timer
from app.booth.window import BoothWindow
from app.bridge import AssistantBridge
from ola_core import events as ev
from ola_core.booth.config import BoothConfig
from ola_core.booth.health import HEALTH_FILE, HEARTBEAT_ENV, DailyLog, HealthFile, log_dir
from ola_core.booth.presence import PersonDetector
from ola_core.booth.session import BoothSession, Notice, booth_settings
from ola_core.booth.wordfilter import WordFilter
from ola_core.errors import OlaError
from ola_core.settings import Settings, load_settings

STATUS = {"listening": "Listening…  · 正在听…", "thinking": "Thinking…  · 思考中…", "speaking": ""}
NOTICES = {
    "rate_limited": "One moment please: too many questions in a minute.  · 请稍等",
    "turn_too_long": "Let's keep it short: ask again!  · 请简短提问",
}


class BoothController(QObject):
    """Assistant ⇄ window ⇄ session; see the module docstring."""

    def __init__(
        self, assistant: object, window: BoothWindow, config: BoothConfig, health: HealthFile, daily: DailyLog
    ) -> None:
        super().__init__(window)
        self.assistant = assistant
        self.window = window
        self.health = health
        self.words = WordFilter(config.filter.words, config.filter.mask)
        self.session = BoothSession(assistant, config, daily_log=daily)
        self.detector = (
            PersonDetector() if config.booth.person_detection and config.booth.camera >= 0 else None
        )
        self.bridge = AssistantBridge(self)
        b = self.bridge
        b.state_changed.connect(self._on_state)
        b.user_turn.connect(self._on_user_turn)
        b.user_caption.connect(lambda e: window.conversation.set_visitor(self.words.clean(e.text)))
        b.text_delta.connect(lambda e: window.conversation.append_answer(e.text))
        b.turn_finished.connect(lambda e: window.conversation.set_answer(e.text) if e.text else None)
        b.source_changed.connect(lambda e: window.attract.set_camera(e.kind == "camera"))
        b.model_loaded.connect(self._on_loaded)
        b.error.connect(lambda e: setattr(health, "last_error", e.error_type))
        b.conversation_reset.connect(lambda _e: window.conversation.clear())
        b.attach(assistant.subscribe)  # type: ignore[attr-defined]
        self._notices = _Relay(self)
        self._notices.notice.connect(self._on_notice)  # the session may notify from assistant threads
        self.session.on_notice(self._notices.notice.emit)
        window.tapped.connect(self._wake)
        window.start_over.connect(lambda: self.session.start_over("start_over"))
        window.ask.connect(self._ask)
        window.exit_requested.connect(QApplication.quit)
        self._tick = make_timer(self, 1000, self.session.tick)
        self._camera = make_timer(self, 400, self._look)
        self._beat = make_timer(self, round(config.operations.heartbeat_s * 1000), health.beat)

    def start(self) -> None:
        for timer in (self._tick, self._camera, self._beat):
            timer.start()
        self.health.beat()

    def _wake(self) -> None:
        self.session.tapped()
        self.window.show_conversation()

    def _ask(self, text: str) -> None:
        self.window.conversation.set_visitor(self.words.clean(text))
        self.window.conversation.set_answer("")
        self.session.ask(text)

    def _on_state(self, event: ev.StateChanged) -> None:
        self.health.state = event.state
        if event.state in ("listening", "thinking", "speaking"):
            self.window.show_conversation()
        if event.state in STATUS:
            self.window.conversation.set_status(STATUS[event.state])

    def _on_user_turn(self, event: ev.UserTurnCaptured) -> None:
        self.window.show_conversation()
        shown = self.words.clean(event.text) if event.kind == "text" else "(speaking…)"
        self.window.conversation.set_visitor(shown)  # a spoken turn's words follow as a UserCaption
        self.window.conversation.set_answer("")

    def _on_loaded(self, event: ev.ModelLoaded) -> None:
        rehearsal = self.session.config.booth.rehearsal
        self.health.model = (
            f"REHEARSAL, interface-test model ({event.description})" if rehearsal else event.description
        )

    def _on_notice(self, notice: Notice) -> None:
        if notice.kind == "reset":
            self.window.show_goodbye()
        else:
            self.window.conversation.set_status(NOTICES.get(notice.kind, ""))

    def _look(self) -> None:
        frame = self.assistant.preview_frame()  # type: ignore[attr-defined]
        if frame is None:
            return
        if self.window.screen_name == "attract":
            self.window.attract.set_frame(frame.rgb)
        if self.detector is not None and self.detector.seen(frame.rgb):
            self.session.person_seen()
            if self.window.screen_name == "attract":
                self.window.show_conversation()


class _Relay(QObject):
    """Carries the session's notices to the GUI thread (queued across threads by Qt)."""

    notice = Signal(object)


def booth_model_settings(config: BoothConfig, settings: Settings) -> Settings:
    """The model the booth runs: the interface-test model when rehearsing, else the user's."""
    from dataclasses import replace

    from app.main import model_files_for, settings_for
    from ola_core.model_store import write_test_model

    if config.booth.rehearsal:
        test_model = write_test_model()
        model = replace(settings.model, model_dir=str(test_model.ola_dir), quantization="none", device="cpu")
        return replace(settings, model=model)
    files = model_files_for(settings)
    if files is None:
        raise OlaError(
            "No Ola model is installed. Download it in the app first, or set rehearsal = true in [booth] "
            "to try the booth with the interface-test model."
        )
    return settings_for(settings, files, None)


def run_booth(config: BoothConfig, config_path: object = None) -> int:
    """Open the kiosk (full screen) and run until the operator leaves with the PIN (status 0)."""
    from ola_core.assistant import Assistant

    os.environ["OLA_THEME"] = config.booth.theme
    try:
        settings = booth_model_settings(config, booth_settings(load_settings()[0], config))
    except OlaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    colors = theme.apply(app)
    folder = log_dir(config.operations.log_dir)
    daily = DailyLog(folder)
    health = HealthFile(Path(os.environ.get(HEARTBEAT_ENV) or folder / HEALTH_FILE), daily)
    words = WordFilter(config.filter.words, config.filter.mask)
    assistant = Assistant(settings, answer_filter=words if config.filter.words else None)
    window = BoothWindow(config, colors)
    controller = BoothController(assistant, window, config, health, daily)
    screen = app.primaryScreen()
    if screen is not None:  # a kiosk X session often has no window manager to make it full screen
        window.setGeometry(screen.geometry())
    window.showFullScreen()
    assistant.start()
    controller.start()
    code = app.exec()
    assistant.shutdown(timeout=5.0)
    return code
