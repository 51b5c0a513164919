"""`chat` in a terminal: typed input is always read, the model failing to load is an error, clean output."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ola_core.assistant
from ola_core.cli import main
from ola_core.commands.chat import PROMPT, _Printer
from ola_core.events import AssistantEvent, AssistantTextDelta, ModelLoaded, TurnFinished

STOP_BOUND_S = 0.2  # the bound for /stop and /quit while an answer is spoken


class LongAnswerAssistant:
    """Stands in for the Assistant: every question gets an answer that lasts until /stop."""

    latest: LongAnswerAssistant | None = None

    def __init__(self, *_: object, **__: object) -> None:
        LongAnswerAssistant.latest = self
        self.subscribers: list[Callable[[AssistantEvent], None]] = []
        self.asked = threading.Event()
        self.stopped = threading.Event()
        self.stopped_at = 0.0
        self.answer_over = threading.Event()
        self.answer_over.set()

    def subscribe(self, callback: Callable[[AssistantEvent], None]) -> None:
        self.subscribers.append(callback)

    def _emit(self, event: AssistantEvent) -> None:
        for callback in self.subscribers:
            callback(event)

    def start(self) -> None:
        self._emit(ModelLoaded("stand-in", 0.0, time.monotonic()))

    def send_text(self, text: str) -> None:
        self.answer_over.clear()
        self._emit(AssistantTextDelta(1, "a very long spoken answer", time.monotonic()))
        self.asked.set()

    def wait_idle(self, timeout: float) -> bool:
        return self.answer_over.wait(timeout)

    def stop(self) -> None:
        self.stopped_at = time.monotonic()
        self.stopped.set()
        self.answer_over.set()

    def shutdown(self) -> None:
        self.answer_over.set()

    def reset(self) -> None: ...

    def set_muted(self, muted: bool) -> None: ...

    def set_source(self, kind: str, index: int = 0) -> None: ...


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], float]]:
    """A pipe as chat's stdin; the fixture's function types a line and returns when it did."""
    read_fd, write_fd = os.pipe()
    monkeypatch.setattr("sys.stdin", os.fdopen(read_fd, "r", encoding="utf-8"))
    writer = os.fdopen(write_fd, "w", encoding="utf-8")

    def type_line(line: str) -> float:
        writer.write(line + "\n")
        writer.flush()
        return time.monotonic()

    yield type_line
    writer.close()


@pytest.mark.parametrize("command", ["/stop", "/quit"])
def test_stop_and_quit_act_while_an_answer_is_spoken(
    typed: Callable[[str], float], command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ola_core.assistant, "Assistant", LongAnswerAssistant)
    monkeypatch.setattr(LongAnswerAssistant, "latest", None)
    result: list[int] = []
    chat = threading.Thread(target=lambda: result.append(main(["chat", "--push-to-talk"])), daemon=True)
    chat.start()
    typed("What is on my desk?")
    deadline = time.monotonic() + 10.0
    while LongAnswerAssistant.latest is None and time.monotonic() < deadline:
        time.sleep(0.01)
    stand_in = LongAnswerAssistant.latest
    assert stand_in is not None
    assert stand_in.asked.wait(10.0), "the question was not sent"
    typed_at = typed(command)
    if command == "/stop":
        assert stand_in.stopped.wait(5.0), "/stop was not read while the answer played"
        assert stand_in.stopped_at - typed_at < STOP_BOUND_S
        typed("/quit")
    chat.join(5.0)
    assert not chat.is_alive(), f"{command}: chat did not end while the answer played"
    if command == "/quit":
        assert time.monotonic() - typed_at < 5.0
    assert result == [0]


def test_closed_stdin_is_one_line_not_a_type_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", None)
    assert main(["chat", "--push-to-talk"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "standard input" in err


def test_a_model_that_fails_to_load_ends_chat_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    assert main(["chat", "--model", str(not_a_model), "--push-to-talk", "--device", "cpu"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error:") and str(not_a_model) in last


def test_messages_during_an_answer_start_on_their_own_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A log line or library warning mid-answer must not split the answer's words."""
    printer = _Printer(prompt=True)
    printer(ModelLoaded("stand-in", 0.0, 0.0))
    printer(AssistantTextDelta(1, "The cat", 0.0))
    printer.note("WARNING alsa: underrun occurred")
    printer(AssistantTextDelta(1, " sleeps.", 0.0))
    out = capsys.readouterr()
    assert "The cat\n" in out.out and "ola>  sleeps." in out.out
    assert out.err == "WARNING alsa: underrun occurred\n"


def test_a_prompt_is_shown_when_a_line_can_be_typed(capsys: pytest.CaptureFixture[str]) -> None:
    printer = _Printer(prompt=True)
    printer(ModelLoaded("stand-in", 0.0, 0.0))
    assert capsys.readouterr().out.endswith(PROMPT)
    printer(AssistantTextDelta(1, "Hi.", 0.0))
    printer(TurnFinished(1, "Hi.", "completed", None))  # type: ignore[arg-type]
    assert capsys.readouterr().out.endswith("\n" + PROMPT)


def test_past_key_values_warning_is_silenced_at_its_source() -> None:
    """The model is called with the argument name the installed transformers expects."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from ola_core.hf_compat import cache_kwargs

    model = Qwen2ForCausalLM(
        Qwen2Config(
            hidden_size=8,
            intermediate_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            vocab_size=16,
        )
    )
    import warnings

    import torch
    from transformers import DynamicCache

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        model(inputs_embeds=torch.zeros(1, 2, 8), use_cache=True, **cache_kwargs(model, DynamicCache()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA is Linux's")
def test_alsa_messages_go_to_the_log_not_the_terminal(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """libasound prints "underrun occurred" and friends straight to fd 2, inside the answer's text."""
    import ctypes
    import ctypes.util
    import logging

    from ola_core.log import route_alsa_messages

    name = ctypes.util.find_library("asound")
    if name is None:
        pytest.skip("no libasound on this machine")
    route_alsa_messages()
    handle = ctypes.c_void_p()
    with caplog.at_level(logging.DEBUG, logger="alsa"):
        assert ctypes.CDLL(name).snd_pcm_open(ctypes.byref(handle), b"no_such_pcm_device", 0, 0) < 0
    assert "no_such_pcm_device" not in capfd.readouterr().err
    assert any(record.name == "alsa" for record in caplog.records)
