"""Search an object graph for a string: what of a visitor is still reachable after a reset."""

from __future__ import annotations

import gc
import sys
import types
from collections import deque


def paths_to_text(
    root: object, marker: str, *, skip: tuple[object, ...] = (), limit: int = 2_000_000
) -> list[str]:
    """Descriptions of the reachable objects (from ``root``, via ``gc.get_referents``) holding
    ``marker``: strings containing it, bytes containing its UTF-8. Modules are not entered (their
    globals are the program, not the assistant's state); objects in ``skip`` are not entered."""
    needle = marker.encode()
    # Module namespaces are the program, not the assistant's state; a function's globals lead there
    # (and from there to every thread of the process), so they are not entered either.
    seen = {id(o) for o in skip} | {id(vars(m)) for m in list(sys.modules.values()) if m is not None}
    queue: deque[tuple[object, str]] = deque([(root, type(root).__name__)])
    seen.add(id(root))
    found: list[str] = []
    while queue and len(seen) < limit:
        obj, path = queue.popleft()
        if isinstance(obj, str):
            if marker in obj:
                found.append(path)
            continue
        if isinstance(obj, bytes | bytearray):
            if needle in obj:
                found.append(path)
            continue
        if isinstance(obj, types.ModuleType):
            continue
        for ref in gc.get_referents(obj):
            if id(ref) not in seen:
                seen.add(id(ref))
                queue.append((ref, f"{path} > {type(ref).__name__}"))
    return found
