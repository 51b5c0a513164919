"""OlaEngine: load once, answer turns of one conversation as streamed text, cancel, reuse the KV cache.

``types`` (turns, deltas, settings, statistics) is plain data; ``engine`` runs a turn on the
caller's thread (``answer``) or a worker (``stream``); ``answering`` decodes into the conversation;
``load_job`` loads in the background; ``conversation`` decides what each turn prefills; ``decoding`` is the
token loop; ``detokenizer`` keeps characters whole; ``turn_inputs`` routes a turn's media to the
processing functions; ``memory`` measures and frees memory.
"""

from ola_core.engine.engine import HistoryEntry, OlaEngine
from ola_core.engine.load_job import LoadJob
from ola_core.engine.turn_inputs import MediaBudget
from ola_core.engine.types import (
    OFFICIAL_SYSTEM_PROMPT,
    SPOKEN_SYSTEM_PROMPT,
    GenerationSettings,
    TextDelta,
    Turn,
    TurnStats,
)

__all__ = [
    "OFFICIAL_SYSTEM_PROMPT",
    "SPOKEN_SYSTEM_PROMPT",
    "GenerationSettings",
    "HistoryEntry",
    "LoadJob",
    "MediaBudget",
    "OlaEngine",
    "TextDelta",
    "Turn",
    "TurnStats",
]
