"""Nothing leaves the machine: the one place that switches off the libraries' own telemetry.

onnxruntime (used by the hibari voice and the CosyVoice cloning encoders) ships Microsoft's 1DS
telemetry: from the moment the module is imported it keeps a device id under
``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and sends events to
``mobile.events.data.microsoft.com``. Only the ``ORT_DISABLE_TELEMETRY`` environment variable,
read at import, stops that; ``disable_telemetry_events()`` after import does not (measured with
onnxruntime 1.32), but it is what turns off the Windows (ETW) events, so both are used.
``ola_core`` calls :func:`disable_telemetry` when it is imported, before any of its code can
import onnxruntime, and every place that opens an onnxruntime session imports it through
:func:`onnxruntime_module`.
"""

from __future__ import annotations

import logging
import os
import sys
from types import ModuleType

log = logging.getLogger(__name__)

TELEMETRY_ENV = {"ORT_DISABLE_TELEMETRY": "1"}


def disable_telemetry() -> None:
    """Set the switches before onnxruntime is imported; turn its events off if it already is."""
    os.environ.update(TELEMETRY_ENV)
    module = sys.modules.get("onnxruntime")
    if module is not None:
        module.disable_telemetry_events()


def onnxruntime_module() -> ModuleType:
    """``onnxruntime``, imported with its telemetry off (call this before creating any session)."""
    disable_telemetry()
    import onnxruntime

    onnxruntime.disable_telemetry_events()
    return onnxruntime
