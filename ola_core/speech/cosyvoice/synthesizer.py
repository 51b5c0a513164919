"""CosyVoice2 as a :class:`~ola_core.speech.synthesizer.Synthesizer`, and its registry entry.

The model loads on first use (or ``warm_up``). Each ``synthesize`` call normalises the text
(frontend.py), runs the streaming runtime and yields 24 kHz chunks; ``cancel()`` from any
thread makes the running call return within one LM step or one ODE step. It streams text
(``synthesize_pieces``): the speech pipeline hands it a sentence's words as they are written.

Selection rule (speech/selection.py): "auto" prefers CosyVoice (priority 80) when its model
folder is present and a CUDA GPU is available; on a CPU it is listed as unavailable (far slower
than real time, docs/speech-output-notes.md §1.5) unless chosen explicitly with ``OLA_COSYVOICE_DEVICE=cpu``.
The model folder comes from the voice context, else ``OLA_COSYVOICE_DIR``, else the model store.
The model ships no voice: the default English and Chinese ones are made at first use (voices.py).
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from ola_core.cancel import CancelToken
from ola_core.errors import SynthesisError
from ola_core.settings import load_settings
from ola_core.speech.cosyvoice.clone import VoiceCloner, load_voices, save_voice
from ola_core.speech.cosyvoice.files import (
    CLONING_FILES,
    COSYVOICE_REPO,
    SPEAKERS_FILE,
    cached_dir,
    find_beside,
    missing_files,
)
from ola_core.speech.cosyvoice.frontend import normalize_pieces, normalize_text
from ola_core.speech.cosyvoice.loading import LoadedCosyVoice, load_cosyvoice
from ola_core.speech.cosyvoice.runtime import CosyVoiceRuntime, VoicePrompt
from ola_core.speech.cosyvoice.voices import ensure_default_voices, voice_for, voices_file
from ola_core.speech.selection import VoiceContext, VoiceEntry
from ola_core.speech.synthesizer import Synthesizer

__all__ = ["ENTRY", "CosyVoiceSynthesizer", "default_voices_file", "find_model_dir", "use_tiny_model"]

NAME = "cosyvoice"
DIR_VARIABLE = "OLA_COSYVOICE_DIR"
DEVICE_VARIABLE = "OLA_COSYVOICE_DEVICE"


class CosyVoiceSynthesizer(Synthesizer):
    name = NAME
    sample_rate = 24_000
    languages = frozenset({"en", "zh"})
    streams_text = True

    def __init__(
        self,
        model_dir: Path,
        device: str | None = None,
        dtype: torch.dtype | None = None,
        *,
        stream: bool = True,
        greedy: bool = False,
        seed: int = 0,
        voices_file: Path | None = None,
        voice: str | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.voices_file = voices_file or default_voices_file()
        self.chosen_voice = voice  # the settings' choice; None: the default of each sentence's language
        self._defaults_tried = False
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = dtype
        self.stream = stream
        self.greedy = greedy
        self.seed = seed
        self._runtime: CosyVoiceRuntime | None = None
        self._lock = threading.Lock()

    @property
    def runtime(self) -> CosyVoiceRuntime:
        with self._lock:  # warm_up() and the synthesis thread may race for the first load
            if self._runtime is None:
                model: LoadedCosyVoice = load_cosyvoice(self.model_dir, self.device, self.dtype)
                self._runtime = CosyVoiceRuntime(model, greedy=self.greedy, seed=self.seed)
                self.sample_rate = model.config.sample_rate
            return self._runtime

    def _speakers(self) -> dict[str, dict[str, torch.Tensor]]:
        """Built-in voices (spk2info.pt), then the voices cloned on this computer (the default
        ones are made the first time, when the model has no voice of its own)."""
        builtin = self.runtime.model.speakers
        if not builtin and not self._defaults_tried:
            self._defaults_tried = True  # once per process: a failure is not retried on every sentence
            ensure_default_voices(self.runtime.model, self.voices_file)
        return {**builtin, **load_voices(self.voices_file)}

    def voices(self) -> tuple[str, ...]:
        return tuple(self._speakers())

    def voice_prompt(self, voice: str | None, text: str = "") -> VoicePrompt:
        speakers = self._speakers()
        voice = voice or voice_for(text, speakers, self.chosen_voice)
        if voice is None:
            if not speakers:
                raise SynthesisError(
                    f"The CosyVoice model in {self.model_dir} has no voice yet: clone one from a 3–10 s "
                    "recording in the settings, or choose another voice."
                )
            voice = next(iter(speakers))
        if voice not in speakers:
            raise SynthesisError(f"CosyVoice has no voice {voice!r}; available: {', '.join(speakers)}.")
        return VoicePrompt.from_entry(speakers[voice])

    def synthesize_pieces(
        self, pieces: Iterable[str], voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        """Like ``synthesize``, but the text arrives in pieces (words as the model writes them) and
        speech starts before it is complete (CosyVoice2 bi-streaming). The pieces are normalised
        as they come (frontend.normalize_pieces); the voice follows the first piece's language."""
        token = cancel or CancelToken()

        def should_stop() -> bool:
            return token.is_set()

        normalized = normalize_pieces(pieces)
        first = next(normalized, None)
        if first is None or should_stop():
            return
        prompt = self.voice_prompt(voice, first)
        for pcm in self.runtime.synthesize_pieces(
            itertools.chain([first], normalized), prompt, stream=self.stream, should_stop=should_stop
        ):
            if should_stop():
                return
            yield pcm

    def clone_voice(self, name: str, samples: np.ndarray, sample_rate: int, transcript: str) -> None:
        """Clone a voice from a 3–10 s mono clip and what it says; saved under ``name`` for later runs."""
        entry = VoiceCloner(self.runtime.model).clone(samples, sample_rate, transcript)
        save_voice(self.voices_file, name, entry)

    def synthesize(
        self, text: str, voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        token = cancel or CancelToken()
        runtime = self.runtime
        prompt = self.voice_prompt(voice, text)

        def should_stop() -> bool:
            return token.is_set()

        for piece in normalize_text(text):
            if should_stop():
                return
            ids = runtime.text_ids(piece)
            for pcm in runtime.synthesize(ids, prompt, stream=self.stream, should_stop=should_stop):
                if should_stop():
                    return
                yield pcm


def find_model_dir(context: VoiceContext) -> Path | None:
    """The CosyVoice2 folder: chosen in the settings, else $OLA_COSYVOICE_DIR, else beside the
    configured Ola folder, else in the Hugging Face cache (as the model store finds it)."""
    if NAME in context.model_dirs:
        return Path(context.model_dirs[NAME])
    if os.environ.get(DIR_VARIABLE):
        return Path(os.environ[DIR_VARIABLE])
    configured = load_settings()[0].model.model_dir
    return (find_beside(Path(configured)) if configured else None) or cached_dir()


def default_voices_file() -> Path:
    """Where cloned voices are kept (the user's data folder)."""
    return voices_file()


def _device() -> str | None:
    return os.environ.get(DEVICE_VARIABLE) or None


def _unavailable(context: VoiceContext) -> str | None:
    model_dir = find_model_dir(context)
    if model_dir is None:
        return f"its model ({COSYVOICE_REPO}) is not downloaded"
    missing = missing_files(model_dir)
    if missing:
        return f"its model folder {model_dir} lacks {', '.join(missing)}"
    if not (model_dir / SPEAKERS_FILE).is_file() and not default_voices_file().is_file():
        # CosyVoice2-0.5B ships no voice; its default ones are cloned at first use, which needs these.
        lacking = [name for name in CLONING_FILES if not (model_dir / name).is_file()]
        if lacking or importlib.util.find_spec("onnxruntime") is None:
            what = f"{model_dir} lacks {', '.join(lacking)}" if lacking else "onnxruntime is not installed"
            return f"it has no voice yet and cannot make its default ones ({what})"
    device = _device()
    if device is None and not torch.cuda.is_available():
        return (
            f"it needs a CUDA GPU (far slower than real time on a CPU; set {DEVICE_VARIABLE}=cpu to force it)"
        )
    return None


def _create(context: VoiceContext) -> Synthesizer:
    model_dir = find_model_dir(context)
    if model_dir is None:
        raise SynthesisError("The CosyVoice2 model is not downloaded: run `ola-assistant download`.")
    return CosyVoiceSynthesizer(model_dir, _device(), voice=load_settings()[0].voice.cosyvoice_voice)


ENTRY = VoiceEntry(
    name=NAME,
    label="CosyVoice2 (neural, English and Chinese, needs a GPU)",
    languages=CosyVoiceSynthesizer.languages,
    priority=80,
    create=_create,
    unavailable=_unavailable,
)


def use_tiny_model(folder: Path | None = None) -> Path:
    """Point this process's CosyVoice entry at a tiny random folder on the CPU (bench ``--tiny``)."""
    from ola_core.speech.cosyvoice.tiny import write_tiny_cosyvoice

    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="ola-tiny-cosyvoice-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    write_tiny_cosyvoice(folder, onnx_stand_ins=False)  # no cloning in the bench
    os.environ[DIR_VARIABLE] = str(folder)
    os.environ[DEVICE_VARIABLE] = "cpu"
    return folder
