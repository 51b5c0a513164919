"""The history file: conversations saved, found, renamed, deleted and exported; the recorder
writes what the assistant's events tell."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ola_core import events as ev
from ola_core.history.export import export
from ola_core.history.recorder import HistoryRecorder
from ola_core.history.store import HistoryStore, history_path
from ola_core.media_types import TimedFrame
from ola_core.trace import TurnTrace


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return HistoryStore(tmp_path / "history.sqlite3")


def _frame(value: int) -> TimedFrame:
    rgb = np.full((480, 640, 3), value, np.uint8)
    rgb[:, :320, 0] = 255  # left half red: the thumbnail must keep the colours (RGB, not BGR)
    return TimedFrame(rgb, 1.0)


def test_round_trip_survives_reopening_the_file(tmp_path: Path, store: HistoryStore) -> None:
    first = store.create(now=100.0)
    turn = store.add_turn(
        first,
        kind="voice",
        duration_s=2.5,
        attachments=("red.png",),
        frames_kind="screen",
        thumbnails=(b"\xff\xd8jpeg",),
        now=101.0,
    )
    store.set_caption(turn, "What is on my screen?", "en")
    store.finish_turn(turn, "A terminal.", "completed", {"turn_id": 1, "t_end": 3.0})
    store.close()

    again = HistoryStore(tmp_path / "history.sqlite3")
    record = again.get(first)
    assert record is not None
    assert record.info.title == "What is on my screen?"  # the first question names it
    (saved,) = record.turns
    assert (saved.kind, saved.caption, saved.language, saved.duration_s) == (
        "voice",
        "What is on my screen?",
        "en",
        2.5,
    )
    assert saved.attachments == ("red.png",) and saved.frames_kind == "screen"
    assert saved.thumbnails == (b"\xff\xd8jpeg",)
    assert (saved.answer, saved.outcome, saved.trace) == (
        "A terminal.",
        "completed",
        {"turn_id": 1, "t_end": 3.0},
    )
    assert record.text_turns() == (("What is on my screen?", "A terminal."),)


def test_search_rename_delete(store: HistoryStore) -> None:
    cats = store.create(now=1.0)
    store.finish_turn(
        store.add_turn(cats, kind="text", user_text="Tell me about cats"), "Cats purr.", "completed", None
    )
    maths = store.create(now=2.0)
    store.finish_turn(
        store.add_turn(maths, kind="text", user_text="2+2?"), "It is 4, 100% sure.", "completed", None
    )

    assert [c.id for c in store.list()] == [maths, cats]  # the most recently used first
    assert [c.id for c in store.list("PURR")] == [cats]  # answers are searched, any case
    assert [c.id for c in store.list("100%")] == [maths]  # % is a character, not a wildcard
    assert store.list("1_0") == []  # and _ is not a one-character wildcard
    assert store.list("dogs") == []

    store.rename(cats, "  Feline facts ")
    assert [c.title for c in store.list("feline")] == ["Feline facts"]

    store.delete(cats)
    assert [c.id for c in store.list()] == [maths]
    assert store.get(cats) is None


def test_recorder_writes_turns_captions_and_answers(store: HistoryStore) -> None:
    recorder = HistoryRecorder(store)
    recorder(
        ev.UserTurnCaptured(1, "text", "Hello", 0.0, (_frame(10), _frame(20)), "camera", (Path("/x/a.png"),))
    )
    recorder(ev.TurnFinished(1, "Hi there.", "completed", TurnTrace(1, "text", t_turn_start=1.0, t_end=2.0)))
    first = recorder.conversation_id
    recorder(ev.ConversationReset(3.0))  # Ctrl+N: the old conversation stays, the next turn opens another
    recorder(ev.UserTurnCaptured(2, "voice", "", 1.5, (), "camera"))
    recorder(ev.TurnFinished(2, "Sure.", "stopped", TurnTrace(2, "voice", outcome="stopped")))
    recorder(ev.UserCaption(2, "Can you help?", "en", 4.0))  # the caption may come after the answer ended

    assert first is not None and recorder.conversation_id not in (None, first)
    old = store.get(first)
    assert old is not None
    (turn,) = old.turns
    assert (turn.user_text, turn.answer, turn.attachments) == ("Hello", "Hi there.", ("a.png",))
    assert turn.trace is not None and turn.trace["t_end"] == 2.0
    assert len(turn.thumbnails) == 2 and all(t.startswith(b"\xff\xd8") for t in turn.thumbnails)  # JPEG
    assert max(len(t) for t in turn.thumbnails) < 20_000  # small: never the frame itself
    assert recorder.conversation_id is not None
    spoken = store.get(recorder.conversation_id)
    assert spoken is not None and spoken.info.title == "Can you help?"  # named by what was said
    (voice,) = spoken.turns
    assert (voice.caption, voice.language, voice.question, voice.answer) == (
        "Can you help?",
        "en",
        "Can you help?",
        "Sure.",
    )

    import cv2

    bgr = cv2.imdecode(np.frombuffer(turn.thumbnails[0], np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    assert max(bgr.shape[:2]) == 160
    assert bgr[40, 20, 2] > 200 and bgr[40, 20, 0] < 60  # the red half is still red


def test_resume_continues_a_saved_conversation_across_its_reset(store: HistoryStore) -> None:
    recorder = HistoryRecorder(store)
    recorder(ev.UserTurnCaptured(1, "text", "One", 0.0, ()))
    recorder(ev.TurnFinished(1, "1", "completed", TurnTrace(1, "text")))
    saved = recorder.conversation_id
    assert saved is not None
    recorder.new_conversation()
    recorder.resume(saved)
    recorder(ev.ConversationReset(2.0))  # the reset that reopens it
    recorder(ev.UserTurnCaptured(2, "text", "Two", 0.0, ()))
    recorder(ev.TurnFinished(2, "2", "completed", TurnTrace(2, "text")))
    record = store.get(saved)
    assert record is not None and record.text_turns() == (("One", "1"), ("Two", "2"))
    assert len(store.list()) == 1


def test_export_markdown_and_json(tmp_path: Path, store: HistoryStore) -> None:
    recorder = HistoryRecorder(store)
    recorder(ev.UserTurnCaptured(1, "text", "Look", 0.0, (_frame(0),), "screen"))
    recorder(ev.TurnFinished(1, "A window.", "barge_in", TurnTrace(1, "text")))
    assert recorder.conversation_id is not None
    record = store.get(recorder.conversation_id)
    assert record is not None

    markdown = export(record, tmp_path / "out" / "talk.md").read_text(encoding="utf-8")
    assert "Look" in markdown and "A window." in markdown and "(interrupted)" in markdown
    assert (tmp_path / "out" / "talk_files" / "turn000_screen_0.jpg").read_bytes() == record.turns[
        0
    ].thumbnails[0]
    assert "talk_files/turn000_screen_0.jpg" in markdown

    data = json.loads(export(record, tmp_path / "talk.json").read_text(encoding="utf-8"))
    assert data["turns"][0]["text"] == "Look" and data["turns"][0]["frames"] == 1


def test_history_path_follows_the_data_folder_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLA_DATA_DIR", str(tmp_path / "data"))
    assert history_path() == tmp_path / "data" / "history.sqlite3"


def test_unwritable_folder_gives_one_clear_error(tmp_path: Path) -> None:
    from ola_core.history.store import HistoryError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HistoryError, match="cannot be opened"):
        HistoryStore(blocker / "history.sqlite3")


def test_a_reopened_conversation_seeds_the_engine_with_its_text_turns(tmp_path: Path) -> None:
    from ola_core.engine.engine import OlaEngine

    engine = OlaEngine(tmp_path)  # not loaded: the conversation state alone
    engine.reset((("What is red?", "A colour."), ("And blue?", "Another one.")))
    assert [(h.answer, h.interrupted) for h in engine.history] == [
        ("A colour.", False),
        ("Another one.", False),
    ]
    assert engine.context_tokens == 0  # no cache: the next turn prefills the whole text again
    engine.reset()
    assert engine.history == ()
