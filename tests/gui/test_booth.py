"""The booth's kiosk window with the real assistant on the tiny checkpoint: attract → conversation →
"Start over" → goodbye → attract, captions large enough at 1080p, the PIN-guarded exit, the cursor."""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.booth.launch import BoothController
from app.booth.window import CHORD_HOLD_S, BoothWindow
from app.theme import current
from ola_core.booth.config import BoothConfig, BoothSection, FilterSection, LimitsSection
from ola_core.booth.health import DailyLog, HealthFile
from ola_core.booth.session import booth_settings
from ola_core.booth.wordfilter import WordFilter
from tests.assistant.conftest import fast_settings, make_session


def config() -> BoothConfig:
    return BoothConfig(
        booth=BoothSection(camera=-1, rehearsal=True, greeting="Hello visitor!", pin="2468"),
        limits=LimitsSection(max_answer_tokens=8, turns_per_minute=60),
        filter=FilterSection(words=("forbidden",), mask="#"),
    )


@pytest.fixture
def kiosk(qtbot, themed):  # type: ignore[no-untyped-def]
    win = BoothWindow(config(), current())
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_captions_are_readable_from_two_metres_at_1080p(kiosk, qtbot) -> None:  # type: ignore[no-untyped-def]
    kiosk.show_conversation()
    qtbot.waitUntil(lambda: kiosk.conversation.answer.font().pixelSize() > 0)
    conversation = kiosk.conversation
    for label in (conversation.visitor, conversation.answer):
        assert label.font().pixelSize() >= 28
    assert conversation.answer.font().pixelSize() >= 40  # the answer is the thing to read
    assert conversation.start_over_button.height() >= 96  # a finger-sized target
    assert kiosk.attract.title.font().pixelSize() >= 100
    assert kiosk.contextMenuPolicy() == Qt.ContextMenuPolicy.NoContextMenu


def test_the_exit_needs_the_chord_held_and_the_pin(kiosk, qtbot) -> None:  # type: ignore[no-untyped-def]
    now = [0.0]
    kiosk._clock = lambda: now[0]
    chord = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    qtbot.keyPress(kiosk, Qt.Key.Key_Q, chord)
    now[0] = CHORD_HOLD_S - 0.5
    qtbot.keyPress(kiosk, Qt.Key.Key_Q, chord)
    assert kiosk.screen_name == "attract"  # not held long enough
    now[0] = CHORD_HOLD_S + 0.1
    qtbot.keyPress(kiosk, Qt.Key.Key_Q, chord)
    assert kiosk.screen_name == "pin"
    for key in "1111":
        kiosk.pin.press(key)
    kiosk.pin.press("OK")
    assert kiosk.screen_name == "attract"  # a wrong PIN goes back to the visitors' screen
    kiosk.open_pin()
    with qtbot.waitSignal(kiosk.exit_requested, timeout=1000):
        for key in "2468":
            kiosk.pin.press(key)
        kiosk.pin.press("OK")


def test_the_cursor_hides_when_idle(kiosk, qtbot) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: kiosk.cursor_hidden, timeout=6000)
    qtbot.mouseMove(kiosk.attract)
    qtbot.waitUntil(lambda: not kiosk.cursor_hidden, timeout=2000)


def shown_text(kiosk: BoothWindow) -> str:
    return " ".join(label.text() for label in kiosk.findChildren(QLabel))


def test_a_visitor_comes_talks_and_is_forgotten(kiosk, qtbot, loaded, tiny_checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = config()
    settings = booth_settings(fast_settings(tiny_checkpoint), cfg)
    session = make_session(loaded, tiny_checkpoint, settings, answer_filter=WordFilter(cfg.filter.words, "#"))
    daily = DailyLog(tmp_path / "logs")
    health = HealthFile(tmp_path / "logs" / "health.json", daily)
    controller = BoothController(session.assistant, kiosk, cfg, health, daily)
    session.start(timeout=120)
    try:
        controller.start()
        kiosk.tapped.emit()
        assert kiosk.screen_name == "conversation" and "Hello visitor!" in kiosk.conversation.answer.text()
        marker = "visitor-" + uuid.uuid4().hex
        kiosk.ask.emit(f"I am {marker}, is this forbidden?")
        assert (
            marker in kiosk.conversation.visitor.text()
            and "forbidden" not in kiosk.conversation.visitor.text()
        )
        qtbot.waitUntil(
            lambda: session.assistant.wait_idle(0) and kiosk.conversation.answer.text() != "", timeout=60000
        )
        kiosk.conversation.start_over_button.click()
        qtbot.waitUntil(lambda: kiosk.screen_name == "goodbye", timeout=5000)
        assert marker not in shown_text(kiosk)
        qtbot.waitUntil(lambda: kiosk.screen_name == "attract", timeout=6000)
        assert health.path.exists() and '"turns_text": 1' in daily.path.read_text()
        assert health.model.startswith("REHEARSAL, interface-test model")
    finally:
        controller.session.close()
        controller.bridge.detach()
        session.close()


def test_settings_start_the_booth_only_with_a_valid_file(themed, qtbot, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.booth import launcher
    from app.dialogs.settings import SettingsDialog
    from ola_core.settings import Settings

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    found = dialog.findChildren(launcher.BoothLauncher)
    assert len(found) == 1
    entry = found[0]
    started: list[tuple[str, list[str]]] = []

    def start_detached(program: str, args: list[str]) -> tuple[bool, int]:
        started.append((program, args))
        return True, 1

    monkeypatch.setattr(launcher.QProcess, "startDetached", start_detached)
    monkeypatch.setattr(launcher.QApplication, "quit", lambda: None)
    bad = tmp_path / "bad.toml"
    bad.write_text("[booth]\nidle_reset_s = 1\n")
    entry.path.setText(str(bad))
    assert not entry.launch() and "[booth] idle_reset_s" in entry.message.text() and started == []
    good = tmp_path / "good.toml"
    good.write_text("[booth]\nrehearsal = true\n")
    entry.path.setText(str(good))
    assert entry.launch()
    assert started[0][1][-3:] == ["booth", "--config", str(good.resolve())]


class CameraOnlyAssistant:
    """What the controller uses of an assistant, with a camera that sees a person step in."""

    def __init__(self) -> None:
        import numpy as np

        from ola_core.settings import Settings

        self.settings = Settings()
        self.calls: list[str] = []
        self.looks = 0
        rng = np.random.default_rng(1)
        self.empty = rng.integers(0, 60, (240, 320, 3), dtype=np.uint8)
        from PIL import Image
        from skimage import data

        # Someone steps in: a real photo of a person (the face cascade needs a face, not a shape).
        face = np.asarray(Image.fromarray(data.astronaut()).resize((240, 240)))
        self.person = self.empty.copy()
        self.person[:, 40:280] = face

    def subscribe(self, callback):  # type: ignore[no-untyped-def]
        return lambda: None

    def preview_frame(self):  # type: ignore[no-untyped-def]
        from ola_core.media_types import TimedFrame

        self.looks += 1
        return TimedFrame(self.empty if self.looks < 12 else self.person, 0.0)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *args: self.calls.append(name)


def test_a_person_in_view_wakes_the_booth(kiosk, qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = BoothConfig(booth=BoothSection(camera=0, person_detection=True))
    assistant = CameraOnlyAssistant()
    daily = DailyLog(tmp_path)
    controller = BoothController(assistant, kiosk, cfg, HealthFile(tmp_path / "health.json", daily), daily)
    controller.start()
    qtbot.waitUntil(lambda: assistant.looks >= 6, timeout=10000)
    assert kiosk.screen_name == "attract"  # an empty room wakes nothing
    assert not kiosk.attract.preview.pixmap().isNull()  # the live preview shows
    qtbot.waitUntil(lambda: kiosk.screen_name == "conversation", timeout=10000)
    assert kiosk.conversation.answer.text() == "Hello visitor!" and controller.session.idle.active
