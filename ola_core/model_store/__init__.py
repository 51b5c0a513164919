"""Where the model files are, getting them when they are not, and what this machine can run.

The first-run setup dialog and ``ola-assistant download`` share this package, so everything here
is plain Python (no Qt, and no torch until hardware advice is asked for). Three sets of files
make the assistant (see docs/ARCHITECTURE.md, "Model files"):

* ``THUdyh/Ola-7b``: config, tokenizer and the safetensors shards. The encoder ``.pt`` files the
  hub's main branch later added to this repository are skipped: they come from
* ``THUdyh/Ola_speech_encoders``: ``large-v3.pt`` (Whisper) and the BEATs checkpoint;
* ``FunAudioLLM/CosyVoice2-0.5B`` (optional): the speech-output model directory.

One module per concern: ``locating`` (find a complete set; the interface-test model),
``download`` (fetch what is missing, with progress and cancel) and ``hardware`` (what this
machine can run). Their public names are importable from here.

Without a CUDA GPU the real model runs on the CPU, far too slowly to talk to; the setup then
offers the *interface-test model*: a tiny checkpoint with random weights written by
``ola_core.model.tiny``, which answers gibberish but exercises every part of the app.
"""

from ola_core.model.locator import (
    BEATS_FILE_NAME,
    OLA_REPO,
    SPEECH_ENCODER_FILES,
    SPEECH_ENCODERS_REPO,
    WHISPER_FILE_NAME,
)
from ola_core.model_store.download import (
    DownloadCancelled,
    Downloader,
    DownloadError,
    DownloadProgress,
    RemoteFile,
    wanted_files,
)
from ola_core.model_store.hardware import (
    Hardware,
    Recommendation,
    cpu_ram_gb,
    detect_hardware,
    footprint_gb,
    recommend,
)
from ola_core.model_store.locating import (
    TEST_MODEL_LABEL,
    TEST_MODEL_MARKER,
    ModelFiles,
    Source,
    cached_repos,
    default_test_model_dir,
    find_in_folder,
    find_in_hf_cache,
    find_model_files,
    is_test_model,
    ola_dir_problems,
    refuse_non_empty,
    write_test_model,
)
from ola_core.speech.cosyvoice.files import COSYVOICE_REPO

__all__ = [
    "BEATS_FILE_NAME",
    "COSYVOICE_REPO",
    "OLA_REPO",
    "SPEECH_ENCODERS_REPO",
    "SPEECH_ENCODER_FILES",
    "TEST_MODEL_LABEL",
    "TEST_MODEL_MARKER",
    "WHISPER_FILE_NAME",
    "DownloadCancelled",
    "DownloadError",
    "DownloadProgress",
    "Downloader",
    "Hardware",
    "ModelFiles",
    "Recommendation",
    "RemoteFile",
    "Source",
    "cached_repos",
    "cpu_ram_gb",
    "default_test_model_dir",
    "detect_hardware",
    "find_in_folder",
    "find_in_hf_cache",
    "find_model_files",
    "footprint_gb",
    "is_test_model",
    "ola_dir_problems",
    "recommend",
    "refuse_non_empty",
    "wanted_files",
    "write_test_model",
]
