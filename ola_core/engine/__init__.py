"""OlaEngine: load once, answer turns of one conversation as streamed text, cancel, reuse the KV cache.

``types`` (turns, deltas, settings, statistics) is plain data; ``engine`` runs the model on a
worker thread per turn; ``conversation`` decides what each turn prefills; ``decoding`` is the
token loop; ``detokenizer`` keeps characters whole; ``turn_inputs`` routes a turn's media to the
processing functions; ``memory`` measures and frees memory.
"""

from ola_core.engine.engine import HistoryEntry, LoadJob, OlaEngine
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
