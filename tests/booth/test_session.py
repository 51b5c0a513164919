"""The visitor's session policy on a fake assistant and a fake clock: idle reset, rate limit, turn length."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from ola_core.booth.config import BoothConfig, BoothSection, LimitsSection
from ola_core.booth.health import DailyLog, HealthFile
from ola_core.booth.presence import PersonDetector
from ola_core.booth.session import BoothSession, Notice
from ola_core.events import AssistantEvent, StateChanged, TurnFinished, UserTurnCaptured
from ola_core.settings import Settings, VisionSettings
from ola_core.trace import TurnTrace


class FakeAssistant:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.calls: list[tuple[object, ...]] = []
        self.subscriber = lambda event: None

    def subscribe(self, callback):  # type: ignore[no-untyped-def]
        self.subscriber = callback
        return lambda: None

    def emit(self, event: AssistantEvent) -> None:
        self.subscriber(event)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *args: self.calls.append((name, *args))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    config: BoothConfig, settings: Settings | None = None
) -> tuple[BoothSession, FakeAssistant, Clock, list[Notice]]:
    assistant, clock = FakeAssistant(settings or Settings()), Clock()
    notices: list[Notice] = []
    session = BoothSession(assistant, config, clock=clock)
    session.on_notice(notices.append)
    return session, assistant, clock, notices


def state(name: str) -> StateChanged:
    return StateChanged(name, "idle", True, False, 0.0)  # type: ignore[arg-type]


def captured(kind: str = "voice") -> UserTurnCaptured:
    return UserTurnCaptured(1, kind, "", 1.0, ())  # type: ignore[arg-type]


def test_the_session_resets_after_the_idle_time_and_not_before() -> None:
    session, assistant, clock, notices = make(
        BoothConfig(booth=BoothSection(idle_reset_s=45), limits=LimitsSection(max_turn_s=600))
    )
    session.tick()
    assert notices == []  # no visitor yet: nothing to reset
    assistant.emit(state("listening"))
    assistant.emit(captured())
    assistant.emit(state("speaking"))
    clock.now += 100
    session.tick()
    assert notices == []  # a turn runs: never reset under it
    assistant.emit(TurnFinished(1, "", "completed", TurnTrace(1, "voice")))
    assistant.emit(state("idle"))
    clock.now += 44
    session.tick()
    assert notices == []
    session.person_seen()  # someone still stands there: the clock starts again
    clock.now += 44
    session.tick()
    assert notices == []
    clock.now += 2
    session.tick()
    assert notices == [Notice("reset", "idle")]
    assert [c[0] for c in assistant.calls] == ["reset", "clear_attachments"]
    clock.now += 100
    session.tick()
    assert len(notices) == 1  # one reset per visitor


def test_start_over_also_reopens_the_camera_to_drop_its_frames() -> None:
    settings = Settings(vision=VisionSettings(source="camera", camera=2))
    session, assistant, _, notices = make(BoothConfig(), settings)
    session.start_over()
    assert ("set_source", "camera", 2) in assistant.calls and notices == [Notice("reset", "start_over")]


def test_turns_over_the_rate_limit_are_refused() -> None:
    session, assistant, clock, notices = make(BoothConfig(limits=LimitsSection(turns_per_minute=2)))
    assert session.ask("one") and session.ask("two")
    assert not session.ask("three")
    assistant.emit(captured("voice"))
    assert ("stop",) in assistant.calls
    assert notices == [Notice("rate_limited"), Notice("rate_limited")]
    clock.now += 61
    assert session.ask("four")
    assert [c for c in assistant.calls if c[0] == "send_text"] == [
        ("send_text", t) for t in ("one", "two", "four")
    ]


def test_a_turn_that_runs_too_long_is_stopped() -> None:
    session, assistant, clock, notices = make(BoothConfig(limits=LimitsSection(max_turn_s=20)))
    assistant.emit(captured())
    clock.now += 19
    session.tick()
    assert ("stop",) not in assistant.calls
    clock.now += 2
    session.tick()
    assert ("stop",) in assistant.calls and Notice("turn_too_long") in notices


def test_the_daily_log_and_health_file_hold_numbers_only(tmp_path: Path) -> None:
    day = [datetime.date(2026, 5, 1)]
    log = DailyLog(tmp_path, today=lambda: day[0])
    trace = TurnTrace(
        1, "voice", t_endpoint=10.0, t_turn_start=10.0, t_first_token=10.5, t_end=12.0, caption="secret"
    )
    log.record_turn(trace)
    log.record_turn(
        TurnTrace(2, "text", outcome="barge_in", t_turn_start=20.0, t_first_token=20.25, t_end=21.0)
    )
    log.record_reset("idle")
    text = (tmp_path / "booth-2026-05-01.json").read_text()
    assert "secret" not in text
    data = json.loads(text)
    assert data["counts"] == {
        "turns_voice": 1,
        "turns_text": 1,
        "outcome_completed": 1,
        "outcome_barge_in": 1,
        "resets_idle": 1,
    }
    assert data["latency"]["first_token_s"]["n"] == 2 and data["latency"]["first_token_s"]["max"] == 0.5
    day[0] = datetime.date(2026, 5, 2)
    log.record_reset("start_over")
    assert json.loads((tmp_path / "booth-2026-05-02.json").read_text())["counts"] == {"resets_start_over": 1}
    health = HealthFile(tmp_path / "health.json", log)
    health.state, health.model = "idle", "interface-test model"
    health.beat()
    beat = json.loads((tmp_path / "health.json").read_text())
    assert beat["state"] == "idle" and beat["today"] == {"resets_start_over": 1}


def test_motion_presence_sees_someone_step_in() -> None:
    detector = PersonDetector(force_motion=True)
    rng = np.random.default_rng(0)
    background = rng.integers(0, 60, (240, 320, 3), dtype=np.uint8)
    assert not any(detector.seen(background) for _ in range(30))
    person = background.copy()
    person[40:220, 110:210] = 220  # a bright figure fills a third of the picture
    assert detector.seen(person)


def test_the_bundled_face_cascade_finds_a_face_and_nothing_in_empty_scenes() -> None:
    """OpenCV 4.x's own frontal-face cascade on a real photo of a person (scikit-image's astronaut)."""
    from skimage import data

    assert PersonDetector().method == "face cascade"  # pyproject.toml keeps OpenCV below 5 for this
    assert PersonDetector().seen(data.astronaut())
    for empty in (data.brick(), data.coffee(), np.zeros((480, 640, 3), np.uint8)):
        assert not PersonDetector().seen(empty)


def test_the_microphone_forgets_its_recent_audio() -> None:
    """The mic keeps the last 30 s (for ``recent``); a reset's ``forget`` erases the visitor's voice."""
    from ola_core.capture.mic import MicStream

    stream = MicStream()  # not started: no device needed
    stream._keep(np.full(16_000, 1234, np.int16))  # what the reader thread does with each block
    assert len(stream.recent(1.0)) == 16_000
    stream.forget()
    assert len(stream.recent(1.0)) == 0 and not stream._ring16.any()
