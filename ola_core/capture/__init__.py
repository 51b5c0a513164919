"""Devices in: microphone with voice-activity endpointing, camera, screen, and the frame history.

The public names are re-exported here; see docs/ARCHITECTURE.md (capture) for how the assistant
drives them. The frames they deliver are :class:`ola_core.media_types.TimedFrame` values, which
every layer may import without importing capture.
"""

from ola_core.capture.events import (
    CaptureEvent,
    DeviceLost,
    DeviceRestored,
    EventCallback,
    LevelUpdate,
    Overflow,
    SpeechEnded,
    SpeechStarted,
    SustainedSpeech,
)
from ola_core.capture.frames import FrameBuffer, FrameSource

__all__ = [
    "CaptureEvent",
    "DeviceLost",
    "DeviceRestored",
    "EventCallback",
    "FrameBuffer",
    "FrameSource",
    "LevelUpdate",
    "Overflow",
    "SpeechEnded",
    "SpeechStarted",
    "SustainedSpeech",
]
