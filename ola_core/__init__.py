"""Ola Desktop Assistant engine: model, media processing, capture, speech and the turn loop.

Plain Python and torch only; this package never imports Qt (see docs/ARCHITECTURE.md).
"""

__version__ = "0.1.0"
