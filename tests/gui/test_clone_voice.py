"""CosyVoice voices in the GUI, on the virtual PulseAudio devices and a tiny CosyVoice2 folder that,
like the release, ships no voice: the Clone dialog records the sentence it shows from the virtual
microphone and the new voice speaks; the settings' picker previews a default voice made at first use."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import Qt
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
