"""`ola-assistant --smoke-test`: the whole app, end to end, in one short unattended run.

Why: a build (the PyInstaller folder, a fresh install) can start and still be broken — a torch
library, a Qt plugin or the offline voice's data left out. This opens the real window (offscreen
when there is no display), loads the interface-test model (tiny, random weights, written to a
temporary folder), types one question through the window, waits for the answer to be shown,
speaks a sentence with the offline voice into memory, and exits 0; anything else exits 1 with
one line saying what failed. It never reads or writes the user's settings, models or history.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when the run starts: `--help` and `--version` stay instant
    from ola_core.settings import Settings

QUESTION = "Hello, who are you?"
OFFLINE_VOICE = "hibari"  # the English voice inside the wheel (and so inside the packaged app)


@dataclass
class SmokeResult:
    """What the run saw; ``problem`` is None when everything worked."""

    answer: str = ""
    problem: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _settings(model_dir: Path) -> Settings:
    from ola_core import settings as config

    return config.Settings(
        model=config.ModelSettings(model_dir=str(model_dir), quantization="none", device="cpu"),
        audio=config.AudioSettings(hands_free=False),  # no voice turns: a CI machine has no microphone
        voice=config.VoiceSettings(speak_answers=False),  # the voice is checked into memory below
        generation=config.GenerationPreferences(max_new_tokens=8, temperature=0.0),
    )


def _offline_voice_samples() -> int:
    from ola_core.speech.selection import select_synthesizer

    synthesizer = select_synthesizer(OFFLINE_VOICE)
    return sum(len(block) for block in synthesizer.synthesize("The smoke test passed."))


def _ask_through_the_window(model_dir: Path, timeout_s: float, result: SmokeResult) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.main_window import MainWindow
    from ola_core.assistant import Assistant
    from ola_core.events import ErrorRaised, ModelLoaded, TurnFinished

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    theme.apply(app)
    settings = _settings(model_dir)
    assistant = Assistant(settings)
    window = MainWindow(assistant, settings=settings)
    started = time.monotonic()

    def finish(problem: str | None) -> None:
        if result.problem is None:
            result.problem = problem
        app.quit()

    def on_loaded(event: ModelLoaded) -> None:
        result.timings["model_load_s"] = time.monotonic() - started

    def on_error(event: ErrorRaised) -> None:
        if event.area == "model" or event.turn_id is not None:  # a missing microphone is not a failure here
            finish(f"{event.area}: {event.message}")

    def on_finished(event: TurnFinished) -> None:
        result.timings["answer_s"] = time.monotonic() - started
        bubble = window.transcript.answer(event.turn_id)
        if event.outcome != "completed" or not event.text.strip():
            finish(f"the turn ended {event.outcome} with {event.text!r}")
        elif bubble is None or bubble.raw != event.text:
            finish("the answer did not reach the window's transcript")
        else:
            result.answer = event.text
            finish(None)

    window.bridge.model_loaded.connect(on_loaded)
    window.bridge.error.connect(on_error)
    window.bridge.turn_finished.connect(on_finished)
    QTimer.singleShot(int(timeout_s * 1000), lambda: finish(f"no answer within {timeout_s:.0f} s"))
    window.show()
    assistant.start()
    window.send_text(QUESTION)  # kept by the window until the model has loaded, as a typed question is
    app.exec()
    window.close()
    assistant.shutdown(timeout=10.0)


def run_smoke_test(timeout_s: float = 300.0, offscreen: bool = True) -> int:
    """Run the check described in the module docstring; print what happened; 0 when it all worked.

    ``offscreen``: draw into memory (no display needed) instead of on the display Qt finds.
    """
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from ola_core import model_store
    from ola_core.platform_info import version_line

    print(version_line(), flush=True)
    result = SmokeResult()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ola-smoke-") as folder:
        files = model_store.write_test_model(Path(folder) / "test-model")
        result.timings["write_model_s"] = time.monotonic() - t0
        _ask_through_the_window(files.ola_dir, timeout_s, result)
    if result.problem is None:
        try:
            samples = _offline_voice_samples()
        except Exception as error:  # any failure here is the finding: the voice is not usable
            result.problem = f"offline voice {OFFLINE_VOICE}: {error}"
        else:
            print(f"offline voice {OFFLINE_VOICE}: {samples} samples", flush=True)
            if samples == 0:
                result.problem = f"offline voice {OFFLINE_VOICE} produced no audio"
    timings = ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
    if result.problem is not None:
        print(f"smoke test FAILED: {result.problem} ({timings})", file=sys.stderr, flush=True)
        return 1
    print(f"answer: {result.answer!r}\nsmoke test passed ({timings})", flush=True)
    return 0
