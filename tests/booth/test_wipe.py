"""A reset wipes the visitor: nothing of their words reachable from the assistant, no file written.

The real assistant on the tiny checkpoint answers typed questions carrying a unique marker; after
"Start over" the object graph reachable from the Assistant (engine conversation, KV cache
bookkeeping, pending attachments, speech pipeline, subscribers) is searched for the marker.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from ola_core.booth.config import BoothConfig, LimitsSection
from ola_core.booth.health import DailyLog
from ola_core.booth.session import BoothSession, booth_settings
from ola_core.booth.wordfilter import WordFilter
from ola_core.engine import OlaEngine
from ola_core.events import ConversationReset, UserCaption
from tests.assistant.conftest import fast_settings, make_session, speak, wait_for_event
from tests.booth.graph import paths_to_text


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    folders = {name: tmp_path / name for name in ("data", "config", "cache", "logs")}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.setenv("OLA_DATA_DIR", str(folders["data"]))
    monkeypatch.setenv("OLA_CONFIG_DIR", str(folders["config"]))
    monkeypatch.setenv("XDG_DATA_HOME", str(folders["cache"]))
    return folders


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_start_over_leaves_nothing_of_the_visitor(loaded, tiny_checkpoint, dirs) -> None:  # type: ignore[no-untyped-def]
    config = BoothConfig(limits=LimitsSection(max_answer_tokens=8, turns_per_minute=50))
    settings = booth_settings(fast_settings(tiny_checkpoint), config)
    assert settings.keep_history is False and settings.trace_file is None
    session = make_session(loaded, tiny_checkpoint, settings.replace(vision=settings.vision.__class__()))
    marker = "visitor-" + uuid.uuid4().hex  # only in locals: a module constant would be reachable
    daily = DailyLog(dirs["logs"])
    booth = BoothSession(session.assistant, config, daily_log=daily)
    session.start(timeout=120)
    try:
        for question in (f"My name is {marker}.", f"Repeat {marker} please"):
            finished = session.ask_text(question)
            assert finished is not None and finished.outcome == "completed"
        assert paths_to_text(session.assistant, marker, skip=(session,)), "the check must see a live turn"
        mark = session.mark()
        booth.start_over()
        wait_for_event(session, ConversationReset, after=mark)
        assert session.assistant.wait_idle(30)
        left = paths_to_text(session.assistant, marker, skip=(session,))
        assert left == [], f"the visitor's words are still reachable: {left[:5]}"
        engine = session.components.engine
        assert isinstance(engine, OlaEngine)
        assert engine.context_tokens == 0 and engine.history == ()  # the KV cache went with it
    finally:
        booth.close()
        session.close()
    assert files_under(dirs["data"]) == [] and files_under(dirs["config"]) == []
    assert files_under(dirs["cache"]) == []
    log_text = "".join(p.read_text() for p in files_under(dirs["logs"]))
    assert marker not in log_text and '"turns_text": 2' in log_text and '"resets_start_over": 1' in log_text


def test_the_word_filter_reaches_screen_and_voice(loaded, tiny_checkpoint) -> None:  # type: ignore[no-untyped-def]
    """Whatever the tiny model says, its own words listed in the filter never come out."""
    settings = fast_settings(tiny_checkpoint)
    probe = make_session(loaded, tiny_checkpoint, settings)
    probe.start(timeout=120)
    try:
        answer = probe.ask_text("hello")
    finally:
        probe.close()
    assert answer is not None
    words = [w for w in answer.text.split() if len(w) > 2][:2]
    if not words:
        pytest.skip(f"the tiny model's answer has no word to filter: {answer.text!r}")
    session = make_session(loaded, tiny_checkpoint, settings, answer_filter=WordFilter(words, mask="#"))
    spoken: list[str] = []
    session.start(timeout=120)
    try:
        pipeline = session.components.speech.pipeline  # type: ignore[union-attr]
        original = pipeline.feed

        def feed(text: str, cancel: Any = None) -> None:
            spoken.append(text)
            original(text, cancel)

        pipeline.feed = feed  # type: ignore[method-assign]
        filtered = session.ask_text("hello")
    finally:
        session.close()
    assert filtered is not None
    for word in words:
        assert word.lower() not in filtered.text.lower()
        assert word.lower() not in "".join(spoken).lower()
    assert "#" in filtered.text and "".join(spoken) == filtered.text


def test_a_spoken_visitor_leaves_no_caption_behind(loaded, tiny_checkpoint, dirs) -> None:  # type: ignore[no-untyped-def]
    """A spoken turn: Whisper's caption of the visitor (random words from the tiny model, but
    words) is not reachable from the assistant after the reset."""
    config = BoothConfig(limits=LimitsSection(max_answer_tokens=8, turns_per_minute=50))
    settings = booth_settings(fast_settings(tiny_checkpoint), config)
    session = make_session(loaded, tiny_checkpoint, settings.replace(vision=settings.vision.__class__()))
    booth = BoothSession(session.assistant, config)
    session.start(timeout=120)
    try:
        mark = session.mark()
        finished = session.ask_spoken(speak("Hello, my name is Alice."))
        assert finished is not None
        caption = wait_for_event(session, UserCaption, after=mark, timeout=60)
        if len(caption.text.strip()) < 6:
            pytest.skip(f"the tiny model's caption is too short to search for: {caption.text!r}")
        assert session.assistant.wait_idle(30)
        mark = session.mark()
        booth.start_over()
        wait_for_event(session, ConversationReset, after=mark)
        assert session.assistant.wait_idle(30)
        left = paths_to_text(session.assistant, caption.text.strip(), skip=(session,))
        assert left == [], f"the visitor's caption is still reachable: {left[:5]}"
    finally:
        booth.close()
        session.close()
    assert files_under(dirs["data"]) == []
