"""Captions in the window: a spoken turn on the real assistant (tiny checkpoint) gets the words
Whisper's decoder read from the turn's own encoder output, in the user's bubble, the export and
(when ready by the turn's end) the trace; with a replayed microphone, and spoken into the virtual
PulseAudio microphone as a user would."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
import soundfile

from ola_core.assistant.audio_in import MicrophoneInput
from ola_core.events import TurnFinished, UserCaption, UserTurnCaptured
from tests.assistant.conftest import speak
from tests.gui.test_with_assistant import _session


def test_a_spoken_turn_gets_its_caption_in_bubble_export_and_trace(  # type: ignore[no-untyped-def]
    qtbot, themed, loaded, tiny_checkpoint, tmp_path: Path
) -> None:
    from app.main_window import MainWindow
    from app.widgets.transcript import UserBubble

    session = _session(loaded, tiny_checkpoint, tmp_path, start=False)
    window = MainWindow(session.assistant, settings=session.settings)
    qtbot.addWidget(window)
    window.show()
    session.start(timeout=120)
    try:
        start = session.mark()
        result: list[TurnFinished | None] = []
        asker = threading.Thread(
            target=lambda: result.append(session.ask_spoken(speak("What do you see?"), 90))
        )
        asker.start()
        qtbot.waitUntil(lambda: not asker.is_alive(), timeout=100000)
        finished = result[0]
        assert finished is not None and finished.outcome == "completed"
        caption = session.wait_for(lambda e: isinstance(e, UserCaption), 60, after=start)
        assert isinstance(caption, UserCaption) and caption.turn_id == finished.turn_id
        # The tiny Whisper is random: its words are made-up ones, but they are words.
        assert caption.text and caption.text.replace(" ", "").isalpha()
        assert caption.language  # a Whisper language code

        user = window.transcript.user(finished.turn_id)
        assert isinstance(user, UserBubble) and user.kind == "voice"
        qtbot.waitUntil(lambda: user.caption == caption.text, timeout=5000)
        assert user.caption_label is not None and caption.text in user.caption_label.text()
        assert user.plain_text() == caption.text

        # The trace holds the caption when it was ready before the turn ended, else nothing.
        events = session.events[start:]
        ready_first = events.index(caption) < events.index(finished)
        assert finished.trace.caption == (caption.text if ready_first else "")

        markdown = window.export_to(tmp_path / "talk.md").read_text()
        assert f"> {caption.text}" in markdown
        data = json.loads(window.export_to(tmp_path / "talk.json").read_text())
        assert [m["caption"] for m in data["messages"] if m["role"] == "user"] == [caption.text]
    finally:
        window.close()
        session.close()


@pytest.mark.audio
def test_a_turn_spoken_into_the_virtual_microphone_shows_its_caption(  # type: ignore[no-untyped-def]
    qtbot, themed, loaded, tiny_checkpoint, virtual_audio, tmp_path: Path
) -> None:
    from app.main_window import MainWindow
    from app.widgets.transcript import UserBubble

    session = _session(loaded, tiny_checkpoint, tmp_path, start=False, audio_input=MicrophoneInput())
    window = MainWindow(session.assistant, settings=session.settings)
    qtbot.addWidget(window)
    window.show()
    session.start(timeout=120)  # the model is loaded and the microphone open
    try:
        wav = tmp_path / "question.wav"
        soundfile.write(wav, speak("What do you see on my desk?"), 16_000)
        start = session.mark()
        subprocess.run(["paplay", "-d", "micfeed", str(wav)], check=True, timeout=30)  # the user speaks

        def voice_bubble() -> UserBubble | None:
            found = [b for b in window.transcript.bubbles if isinstance(b, UserBubble) and b.kind == "voice"]
            return found[0] if found and found[0].caption else None

        qtbot.waitUntil(lambda: voice_bubble() is not None, timeout=120_000)
        user = voice_bubble()
        assert user is not None and user.caption_label is not None
        captured = [e for e in session.events[start:] if isinstance(e, UserTurnCaptured)]
        assert [e.kind for e in captured] == ["voice"]  # one turn, heard through the microphone
        [caption] = [e for e in session.events[start:] if isinstance(e, UserCaption)]
        assert caption.turn_id == user.turn_id and user.caption == caption.text
        assert caption.text.replace(" ", "").isalpha()  # the tiny Whisper's made-up words
        assert f"“{caption.text}”" == user.caption_label.text() and not user.caption_label.isHidden()
        finished = session.wait_for(lambda e: isinstance(e, TurnFinished), 60, after=start)
        assert isinstance(finished, TurnFinished) and finished.outcome == "completed"
    finally:
        window.close()
        session.close()
