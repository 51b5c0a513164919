"""Commands other than speaking: reset, settings applied live, trace file, hands-free toggle, sources."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ola_core.assistant.headless import HeadlessSession
from ola_core.events import ConversationReset, SentenceSpoken, SourceChanged, StateChanged
from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from tests.assistant.conftest import fast_settings, make_session


def test_reset_settings_trace_file_and_hands_free(
    loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint, tmp_path: Path, clip: Path
) -> None:
    traces = tmp_path / "traces.jsonl"
    settings = fast_settings(tiny_checkpoint).replace(trace_file=str(traces))
    session: HeadlessSession = make_session(loaded, tiny_checkpoint, settings)
    session.start(60)
    try:
        first = session.ask_text("hello", timeout=60)
        assert first is not None and first.outcome == "completed"
        engine = session.components.engine
        assert len(engine.history) == 1  # type: ignore[attr-defined]
        lines = traces.read_text().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["turn_id"] == first.turn_id

        start = session.mark()
        session.assistant.reset()
        assert session.wait_for(lambda e: isinstance(e, ConversationReset), 10, after=start)
        assert engine.history == ()  # type: ignore[attr-defined]

        quiet = settings.replace(voice=dataclasses.replace(settings.voice, speak_answers=False))
        session.assistant.apply_settings(quiet)
        start = session.mark()
        silent = session.ask_text("hello again", timeout=60)
        assert silent is not None and silent.outcome == "completed" and silent.text
        assert silent.trace.t_first_played is None
        assert not [e for e in session.events[start:] if isinstance(e, SentenceSpoken)]
        assert session.assistant.settings == quiet

        start = session.mark()
        session.assistant.set_hands_free(False)
        changed = session.wait_for(lambda e: isinstance(e, StateChanged), 10, after=start)
        assert isinstance(changed, StateChanged) and changed.hands_free is False
        assert session.assistant.hands_free is False

        start = session.mark()
        session.assistant.set_source("camera", 7)  # no such camera here: an error, the source stays off
        off = session.wait_for(lambda e: isinstance(e, SourceChanged), 10, after=start)
        assert isinstance(off, SourceChanged)
        session.assistant.set_source("off")
        session.assistant.wait_idle(10)
        assert session.assistant.preview_frame() is None
        assert len(traces.read_text().splitlines()) == 2
    finally:
        session.close()
