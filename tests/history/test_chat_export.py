"""`chat` records its conversation and `/export PATH` writes it once the answers asked before it are in."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ola_core.assistant
from ola_core import events as ev
from ola_core.cli import main
from ola_core.history.store import HistoryStore, history_path
from ola_core.settings import Settings, save_settings
from ola_core.trace import TurnTrace


class EchoAssistant:
    """Stands in for the Assistant: every question is answered with its own words, reversed."""

    def __init__(self, *_: object, **__: object) -> None:
        self.subscribers: list[Callable[[ev.AssistantEvent], None]] = []
        self.turns = 0

    def subscribe(self, callback: Callable[[ev.AssistantEvent], None]) -> None:
        self.subscribers.append(callback)

    def _emit(self, event: ev.AssistantEvent) -> None:
        for callback in self.subscribers:
            callback(event)

    def start(self) -> None:
        self._emit(ev.ModelLoaded("stand-in", 0.0, time.monotonic()))

    def send_text(self, text: str) -> None:
        self.turns += 1
        self._emit(ev.UserTurnCaptured(self.turns, "text", text, 0.0, ()))
        self._emit(ev.TurnFinished(self.turns, text[::-1], "completed", TurnTrace(self.turns, "text")))

    def wait_idle(self, timeout: float) -> bool:
        return True

    def shutdown(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def set_muted(self, muted: bool) -> None:
        pass

    def set_source(self, kind: str, index: int = 0) -> None:
        pass


@pytest.fixture(autouse=True)
def own_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLA_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OLA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(ola_core.assistant, "Assistant", EchoAssistant)


def test_export_writes_the_chat_and_the_history_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "chat.json"
    monkeypatch.setattr("sys.stdin", io.StringIO(f"hello\nhow are you\n/export {out}\n"))
    assert main(["chat", "--push-to-talk"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [(t["text"], t["answer"]) for t in data["turns"]] == [
        ("hello", "olleh"),
        ("how are you", "uoy era woh"),
    ]
    (saved,) = HistoryStore(history_path()).list()
    assert saved.title == "hello" and saved.turns == 2


def test_without_keep_history_nothing_is_written_but_export_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_settings(Settings(keep_history=False))
    out = tmp_path / "chat.md"
    monkeypatch.setattr("sys.stdin", io.StringIO(f"hello\n/export {out}\n"))
    assert main(["chat", "--push-to-talk"]) == 0
    assert "olleh" in out.read_text(encoding="utf-8")
    assert not (tmp_path / "data").exists()


def test_export_before_any_turn_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"/export {tmp_path / 'x.md'}\n"))
    assert main(["chat", "--push-to-talk"]) == 0
    assert "Nothing to export yet" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()
