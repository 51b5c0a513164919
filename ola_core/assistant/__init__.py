"""The conversation loop: turn state machine, barge-in, echo safety, latency traces.

``Assistant`` is the one object the GUI and the CLI talk to: command methods in, immutable
events (``ola_core.events``) out. See :mod:`ola_core.assistant.core` for the threads and states.
"""

from ola_core.assistant.core import Assistant

__all__ = ["Assistant"]
