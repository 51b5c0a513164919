"""Loading the model (and warming up the voice) on the ``assistant-load`` thread.

The loop starts it and goes on; the result comes back as a :class:`~ola_core.assistant.messages.Loaded`
or :class:`~ola_core.assistant.messages.LoadFailed` message naming the engine, so the result
of an engine replaced meanwhile (a reload) is recognised and dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ola_core.assistant.messages import Loaded, LoadFailed
from ola_core.errors import GenerationError, OlaError

if TYPE_CHECKING:
    from ola_core.assistant.answer import Engine
    from ola_core.assistant.speech_out import SpeechOutput


def start_loading(
    engine: Engine,
    speech: SpeechOutput | None,
    *,
    progress: Callable[[float, str], None],
    on_speech_error: Callable[[OlaError], None],
    post: Callable[[Loaded | LoadFailed], None],
    cancel: threading.Event,
    after: threading.Thread | None = None,
) -> threading.Thread:
    """Load and warm up ``engine`` (unless loaded) and warm up ``speech``; the started thread.

    ``after``: a cancelled earlier load that must end first. It is waited for on the new thread,
    so the assistant's loop never blocks on a reload.
    """

    def load() -> None:
        if after is not None:
            after.join()
        t0 = time.monotonic()
        try:
            if not engine.loaded:
                engine.load(progress=progress, cancel=cancel)
                engine.warm_up()  # one-off costs now, not in the first answer
            if speech is not None:
                try:
                    speech.warm_up()
                except OlaError as error:  # answers still come as text; the error says why not spoken
                    on_speech_error(error)
        except OlaError as error:
            post(LoadFailed(engine, error))
            return
        except Exception as error:
            wrapped = GenerationError(f"The model could not be loaded ({type(error).__name__}: {error}).")
            wrapped.__cause__ = error
            post(LoadFailed(engine, wrapped))
            return
        post(Loaded(engine, engine.description, time.monotonic() - t0))

    thread = threading.Thread(target=load, name="assistant-load", daemon=True)
    thread.start()
    return thread
