"""Typed errors a user can cause or meet, each with a message that says what to do.

Every failure that reaches the user (missing model, corrupt file, device gone, out of GPU memory,
unsupported media) is raised as one of these. The assistant turns them into error events; the
GUI and the CLI show ``str(error)`` as is, so messages are written for people, not developers.
"""

from __future__ import annotations


class OlaError(Exception):
    """Base class of every error meant to be shown to the user."""


# --- model files and loading -------------------------------------------------------------------
class ModelFilesMissingError(OlaError):
    """A required model file is absent; the message names the file and where we looked."""


class CorruptModelFileError(OlaError):
    """A model file exists but cannot be read (truncated download, wrong format)."""


class NotAnOlaModelError(OlaError):
    """The folder holds a model, but not an Ola checkpoint."""


class DeviceUnavailableError(OlaError):
    """The requested compute device (e.g. CUDA) is not present."""


class InsufficientMemoryError(OlaError):
    """Not enough (GPU) memory for the chosen model/quantization, or an out-of-memory at run time."""


class LoadCancelledError(OlaError):
    """The user cancelled loading the model (raised from the loading thread at its next step)."""


# --- media -------------------------------------------------------------------------------------
class MediaError(OlaError):
    """An input file or array cannot be used: unsupported format, corrupt, empty."""


# --- devices -----------------------------------------------------------------------------------
class AudioDeviceError(OlaError):
    """A microphone or speaker is missing, busy or disappeared."""


class CameraError(OlaError):
    """A camera is missing, busy or disappeared."""


class ScreenCaptureError(OlaError):
    """The screen cannot be captured (no display, monitor gone)."""


# --- generation and speech ---------------------------------------------------------------------
class GenerationError(OlaError):
    """Generation failed or was refused (e.g. a turn is already running)."""


class SynthesisError(OlaError):
    """Speech synthesis failed or stalled past its watchdog."""


class SettingsError(OlaError):
    """Settings file unreadable or a value out of range."""
