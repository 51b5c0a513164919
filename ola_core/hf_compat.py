"""Calling transformers models the way the installed version wants, without deprecation noise.

transformers 5.x renamed the forward argument ``past_key_values`` to ``cache`` (the old name
still works but warns, a ``FutureWarning`` that used to break into answers printed by ``chat``).
The name is chosen from the model's own signature, so both older and newer 5.x releases get
the argument they understand.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


@functools.cache
def _cache_argument(forward: Callable[..., Any]) -> str:
    parameters = inspect.signature(forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def cache_kwargs(module: Any, cache: Any) -> dict[str, Any]:
    """``{"cache": cache}`` or ``{"past_key_values": cache}``: whichever ``module.forward`` takes."""
    return {_cache_argument(type(module).forward): cache}
