"""Ola Desktop Assistant engine: model, media processing, capture, speech and the turn loop.

Plain Python and torch only; this package never imports Qt (see docs/ARCHITECTURE.md).
"""

from ola_core.privacy import disable_telemetry

__version__ = "0.1.0"

disable_telemetry()  # before anything below ola_core can import onnxruntime (see privacy.py)
