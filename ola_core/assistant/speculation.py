"""Speculative turn start: work on a spoken turn at the first pause, before its endpoint is certain.

The endpointer reports a :class:`~ola_core.capture.events.SpeechPaused` once the user has been
silent for the pause time (the ``speculation_ms`` setting, shorter than the end-of-turn wait),
with exactly the utterance PCM that the turn's ``SpeechEnded`` will carry if nobody speaks
again. The loop then starts the turn's :class:`~ola_core.assistant.answer.AnswerRun` at once, as
a *speculative* run: it encodes the speech and the frames and prefills the model, then waits.

* When the endpoint comes with the same utterance, the run is confirmed: the user's turn is
  announced and the answer decodes; its first token is one decoding step away.
* When the user speaks again (``SpeechResumed``), or does anything else first (a typed question,
  Stop, a setting, a file), the run is dropped: its token is cancelled with the reason
  ``"dropped"``, the engine puts the conversation and its cache back as they were, and no event
  of the run ever reaches a subscriber. The next pause speculates again.

The dropped run's thread ends within one prefill chunk; the next run joins it first (the engine
answers one turn at a time), so a confirmed turn waits at most that long behind a dropped guess.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ola_core.assistant.answer import AnswerRun
from ola_core.assistant.base import AssistantBase
from ola_core.capture.events import SpeechEnded, SpeechPaused
from ola_core.media_types import TimedFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Speculation:
    """A speculative run and what it was started from (to check the endpoint against)."""

    run: AnswerRun
    paused: SpeechPaused
    attachments: tuple[Path, ...]
    frames: tuple[TimedFrame, ...]


class SpeculativeStart(AssistantBase):
    """The loop's handling of pauses: start, confirm or drop the speculative run."""

    _speculation: Speculation | None = None
    _dropped_speculations = 0  # in the utterance being captured

    def _may_speculate(self, event: SpeechPaused) -> bool:
        return (
            self._settings.audio.speculation_ms > 0
            and not self._muted
            and self._hands_free
            and self._answer is None
            and not self._speech_over_answer
            and self._speculation is None
            and self._state not in ("loading", "error")
            and self._components is not None
            and len(event.pcm) > 0
        )

    def _drop_speculation(self) -> None:
        """Drop the speculative run, if any (the user spoke again, or did something else)."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return
        run = speculation.run
        run.drop()
        self._ending.append(run)  # its GenerationEnded ends it silently (see _finish)
        self._dropped_speculations += 1
        if self._turn_ids == run.turn_id:  # the id goes to the next turn: no gap in the numbering
            self._turn_ids -= 1
        log.debug("speculation for turn %d dropped", run.turn_id)

    def _take_speculation(self, event: SpeechEnded) -> Speculation | None:
        """The speculative run if it was started from exactly this utterance (else it is dropped)."""
        speculation = self._speculation
        if speculation is None:
            return None
        paused = speculation.paused
        same = (
            paused.t_last_voiced == event.t_last_voiced
            and speculation.attachments == tuple(self._pending.attachments)
            and np.array_equal(paused.pcm, event.pcm)
        )
        if not same:
            self._drop_speculation()
            return None
        self._speculation = None
        return speculation

    def _end_utterance_speculation(self) -> int:
        """The utterance is over: drop a speculation not taken; how many were dropped during it."""
        self._drop_speculation()
        dropped, self._dropped_speculations = self._dropped_speculations, 0
        return dropped
