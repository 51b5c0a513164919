"""CosyVoice voices in the GUI, on the virtual PulseAudio devices and a tiny CosyVoice2 folder that,
like the release, ships no voice: the Clone dialog records the sentence it shows from the virtual
microphone and the new voice speaks; the settings' picker previews a default voice made at first use;
the dialog's transcript is read by the captions decoder on its worker thread."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox

from ola_core.speech.cosyvoice.files import SPEAKERS_FILE
from ola_core.speech.cosyvoice.tiny import write_tiny_cosyvoice
from ola_core.speech.cosyvoice.voices import ENGLISH_VOICE

JOB_TIMEOUT_MS = 180_000  # loading CosyVoice and cloning on a shared CPU


@pytest.fixture(scope="module")
def bare_cosyvoice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_tiny_cosyvoice(tmp_path_factory.mktemp("cosyvoice") / "CosyVoice2-0.5B")
    (folder / SPEAKERS_FILE).unlink()  # as CosyVoice2-0.5B: no speaker shipped
    return folder


def test_clone_dialog_records_the_virtual_mic_and_the_new_voice_speaks(  # type: ignore[no-untyped-def]
    qtbot, themed, virtual_audio, bare_cosyvoice: Path, tmp_path: Path
) -> None:
    from app.dialogs.clone_voice import CloneVoiceDialog
    from ola_core.speech.cosyvoice.studio import VoiceStudio
    from ola_core.speech.espeak_voice import EspeakSynthesizer

    studio = VoiceStudio(bare_cosyvoice, "cpu")
    dialog = CloneVoiceDialog(studio, language="en")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.sentence_label.text() == dialog.sentence  # what to read is on screen

    espeak = EspeakSynthesizer()
    reading = np.concatenate(list(espeak.synthesize(dialog.sentence)))
    wav = tmp_path / "reading.wav"
    soundfile.write(wav, reading, espeak.sample_rate)
    qtbot.mouseClick(dialog.record_button, Qt.MouseButton.LeftButton)
    assert dialog.record_button.text() == "Stop"
    feed = subprocess.Popen(["paplay", "-d", "micfeed", str(wav)])  # the user reads into the mic
    qtbot.waitUntil(lambda: feed.poll() is not None or dialog.recorded_seconds() >= 10.0, timeout=30_000)
    qtbot.waitUntil(lambda: dialog.recorded_seconds() >= 5.0, timeout=10_000)
    if dialog.record_button.text() == "Stop":
        qtbot.mouseClick(dialog.record_button, Qt.MouseButton.LeftButton)
    feed.wait(timeout=30)

    assert dialog.samples is not None and dialog.sample_rate == 16_000
    assert 5.0 <= len(dialog.samples) / 16_000 <= 10.5
    assert float(np.sqrt(np.mean(dialog.samples**2))) > 0.01  # the reading was heard, not silence
    assert dialog.transcript.toPlainText() == dialog.sentence  # prefilled, editable
    dialog.transcript.setPlainText(dialog.sentence + " ")
    dialog.name.setText("Reader")

    with qtbot.waitSignal(dialog.worker.done, timeout=JOB_TIMEOUT_MS) as cloned:
        qtbot.mouseClick(dialog.clone_button, Qt.MouseButton.LeftButton)
    assert cloned.args == ["clone", "Reader"], dialog.status.text()
    assert "Reader" in studio.names()
    assert dialog.preview_button.isEnabled()

    with qtbot.waitSignal(dialog.worker.done, timeout=JOB_TIMEOUT_MS) as spoken:
        qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    job, samples = spoken.args
    assert job == "preview" and isinstance(samples, int) and samples > 0, dialog.status.text()


def test_settings_picker_previews_a_default_voice_made_at_first_use(  # type: ignore[no-untyped-def]
    qtbot, themed, virtual_audio, bare_cosyvoice: Path
) -> None:
    from app.dialogs.clone_voice import VoicePicker
    from app.dialogs.settings import SettingsDialog
    from ola_core.settings import Settings
    from ola_core.speech.cosyvoice.studio import VoiceStudio

    studio = VoiceStudio(bare_cosyvoice, "cpu")
    names = studio.names()
    assert names[0] == ENGLISH_VOICE and not studio.voices_path.exists()  # offered before it is made
    dialog = SettingsDialog(
        Settings(),
        devices={"cosyvoice_voice": [(n, n) for n in names]},
        voice_row=lambda combo: VoicePicker(combo, studio),
    )
    qtbot.addWidget(dialog)
    combo = dialog.editors["voice.cosyvoice_voice"]
    assert isinstance(combo, QComboBox)
    picker = combo.parentWidget()
    assert isinstance(picker, VoicePicker)
    combo.setCurrentIndex(combo.findData(ENGLISH_VOICE))
    with qtbot.waitSignal(picker.worker.done, timeout=JOB_TIMEOUT_MS) as spoken:
        qtbot.mouseClick(picker.preview_button, Qt.MouseButton.LeftButton)
    assert spoken.args[1] is None, spoken.args[1]  # no error
    assert studio.voices_path.exists() and ENGLISH_VOICE in studio.names()
    settings, warnings = dialog.settings()
    assert settings.voice.cosyvoice_voice == ENGLISH_VOICE and warnings == []


def test_clone_dialog_transcript_is_read_by_the_captions_decoder_off_the_gui_thread(  # type: ignore[no-untyped-def]
    qtbot, themed, loaded, tiny_checkpoint, bare_cosyvoice: Path, tmp_path: Path
) -> None:
    """A picked file: the transcript gets what the captions decoder reads in it (the same words a
    spoken turn's caption would have), computed on the worker while the window keeps running."""
    from app.dialogs.clone_voice import CloneVoiceDialog
    from ola_core.assistant.components import Components
    from ola_core.assistant.core import Assistant
    from ola_core.engine import OlaEngine
    from ola_core.speech.cosyvoice.studio import VoiceStudio
    from tests.assistant.conftest import fast_settings, speak
    from tests.assistant.test_transcribe import caption_of_a_turn

    clip = speak("This is my voice for the new voice.")
    wav = tmp_path / "clip.wav"
    soundfile.write(wav, clip, 16_000)
    expected = caption_of_a_turn(OlaEngine.from_loaded(loaded, model_dir=tiny_checkpoint.model_dir), clip)
    engine = OlaEngine.from_loaded(loaded, model_dir=tiny_checkpoint.model_dir)
    assistant = Assistant(fast_settings(tiny_checkpoint), components=Components(engine, None))

    gui_thread = threading.current_thread()
    released = threading.Event()  # set by the GUI thread's event loop while the transcriber runs
    calls: list[tuple[threading.Thread, bool]] = []

    def transcribe(samples: np.ndarray, rate: int) -> str:
        calls.append((threading.current_thread(), released.wait(30)))
        return assistant.transcribe(samples, rate)

    dialog = CloneVoiceDialog(VoiceStudio(bare_cosyvoice, "cpu"), language="en", transcribe=transcribe)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.worker.done, timeout=60_000) as read:
        dialog.load_file(wav)  # returns at once: a synchronous call would wait 30 s for `released`
        assert not calls or calls[0][0] is not gui_thread
        assert dialog.transcript.toPlainText() == "" and not dialog.clone_button.isEnabled()
        QTimer.singleShot(0, released.set)
    assert read.args == ["transcribe", expected]
    [(thread, was_released)] = calls
    assert thread is not gui_thread and was_released  # the GUI loop ran during the transcription
    assert dialog.transcript.toPlainText() == expected
    assert dialog.clone_button.isEnabled() and not dialog.transcript.isReadOnly()  # editable


def test_clone_dialog_keeps_an_edit_made_while_the_clip_is_read(qtbot, themed, bare_cosyvoice: Path) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.clone_voice import CloneVoiceDialog
    from ola_core.errors import OlaError
    from ola_core.speech.cosyvoice.studio import VoiceStudio

    go = threading.Event()
    answers: list[str | OlaError] = ["heard words", OlaError("no model")]

    def transcribe(_samples: np.ndarray, _rate: int) -> str:
        go.wait(30)
        answer = answers.pop(0)
        if isinstance(answer, OlaError):
            raise answer
        return answer

    dialog = CloneVoiceDialog(VoiceStudio(bare_cosyvoice, "cpu"), language="en", transcribe=transcribe)
    qtbot.addWidget(dialog)
    samples = np.zeros(16_000 * 6, np.float32)
    with qtbot.waitSignal(dialog.worker.done, timeout=30_000):
        dialog._set_clip(samples, 16_000, dialog.sentence)
        assert dialog.transcript.toPlainText() == dialog.sentence  # the read-aloud sentence until then
        dialog.transcript.setPlainText("my own words")
        go.set()
    assert dialog.transcript.toPlainText() == "my own words"
    with qtbot.waitSignal(dialog.worker.done, timeout=30_000):
        dialog._set_clip(samples, 16_000, dialog.sentence)
    assert dialog.transcript.toPlainText() == dialog.sentence
    assert "no model" in dialog.status.text()
