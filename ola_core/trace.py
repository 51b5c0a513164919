"""`TurnTrace`: the monotonic timestamps of one turn, the source of every latency figure.

The assistant fills a :class:`TraceRecorder` while the turn runs (from several threads: the
assistant loop, generation, synthesis and the player's callback) and freezes it into an
immutable :class:`TurnTrace` when the turn ends; that copy travels in the ``TurnFinished``
event, is shown by the GUI's latency HUD and is written (opt-in) as one JSON line per turn.

All times are ``time.monotonic()`` seconds; a mark that did not happen (a typed turn has no
speech start, a cancelled turn may have no first sample) stays ``None``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

TurnKind = Literal["voice", "text"]
TurnOutcome = Literal["completed", "barge_in", "stopped", "error"]
# How a spoken turn used speculative start: "used" (the answer came from work started at a
# pause), "none" (no speculation was ready: the turn started at the endpoint), "off" (disabled),
# "" (a typed turn).
Speculation = Literal["used", "none", "off", ""]
_SPECULATIVE_WORK = ("t_encoders_done", "t_prefill_done")

# The marks in the order a complete spoken turn passes them. ``ordered()`` checks this order; in a
# speculated turn the encoders and the prefill run between the speculation start and the first
# token, before or after the endpoint (whichever comes first).
MARKS: tuple[str, ...] = (
    "t_speech_start",  # first voiced frame (VAD) or push-to-talk down
    "t_last_voiced",  # last voiced frame: mouth-to-ear latency is measured from here
    "t_speculation_start",  # a pause: the answer was started before the endpoint (speculative start)
    "t_endpoint",  # the endpointer decided the turn is over (last voiced + the end-of-turn wait)
    "t_turn_start",  # the assistant thread took the turn (typed turns start here)
    "t_encoders_done",  # vision/speech encoders and the prompt embedding are done
    "t_prefill_done",  # the prompt has been through the model: the first token is one step away
    "t_first_token",  # first generated token
    "t_first_sentence",  # the splitter released the first complete sentence
    "t_first_audio",  # the synthesizer produced the first audio chunk
    "t_first_played",  # the first answer sample reached the output device
    "t_last_played",  # the last answer sample reached the output device
    "t_end",  # the turn finished (all threads of this turn idle again)
)


@dataclass(frozen=True)
class TurnTrace:
    """Everything measured about one turn. Immutable; build it with :class:`TraceRecorder`."""

    turn_id: int
    kind: TurnKind
    outcome: TurnOutcome = "completed"
    t_speech_start: float | None = None
    t_last_voiced: float | None = None
    t_speculation_start: float | None = None
    t_endpoint: float | None = None
    t_turn_start: float | None = None
    t_encoders_done: float | None = None
    t_prefill_done: float | None = None
    t_first_token: float | None = None
    t_first_sentence: float | None = None
    t_first_audio: float | None = None
    t_first_played: float | None = None
    t_last_played: float | None = None
    t_end: float | None = None
    # Interruption (barge-in or Stop): when it was requested and when every stage had stopped.
    t_cancel_requested: float | None = None
    t_cancel_done: float | None = None
    prompt_tokens: int | None = None
    new_tokens: int = 0
    tokens_per_s: float | None = None
    frames_used: int = 0
    speech_s: float = 0.0  # seconds of user audio given to the model
    peak_memory_bytes: int | None = None  # accelerator peak if any, else process peak RSS
    sentences: int = 0
    speculation: Speculation = ""
    speculations_dropped: int = 0  # speculations of this utterance dropped because the user spoke again
    endpoint_wait_ms: float | None = None  # the silence the endpoint waited for (adaptive endpointing)
    caption: str = ""  # what the user said (Whisper's caption), when it was ready by the turn's end
    caption_language: str = ""

    def ordered(self) -> bool:
        """True when the marks that are present follow the order of :data:`MARKS` (in a speculated
        turn, the encoders and prefill only between the speculation start and the first token)."""
        speculated = self.speculation == "used"
        chain = [n for n in MARKS if not (speculated and n in _SPECULATIVE_WORK)]
        ok = _in_order(self, chain)
        if speculated:
            ok = ok and _in_order(self, ["t_speculation_start", *_SPECULATIVE_WORK, "t_first_token"])
        return ok

    def missing(self) -> list[str]:
        """Names of the marks that are ``None`` (a complete spoken turn has none missing; the
        speculation start only counts in a speculated turn)."""
        optional = () if self.speculation == "used" else ("t_speculation_start",)
        return [name for name in MARKS if getattr(self, name) is None and name not in optional]

    @property
    def mouth_to_ear_s(self) -> float | None:
        """Last voiced frame → first answer sample played: what the user experiences as delay."""
        return _span(self.t_last_voiced, self.t_first_played)

    @property
    def cancel_latency_s(self) -> float | None:
        """Barge-in/Stop requested → generation, synthesis and playback all stopped."""
        return _span(self.t_cancel_requested, self.t_cancel_done)

    def speculation_summary(self) -> str:
        """The speculative start in words, for the HUD and ``replay``: "used, 1 dropped,
        prefill done 310 ms before the endpoint"; "" for a typed turn."""
        if not self.speculation:
            return ""
        parts: list[str] = [self.speculation]
        if self.speculations_dropped:
            parts.append(f"{self.speculations_dropped} dropped")
        if self.speculation == "used" and self.t_prefill_done is not None and self.t_endpoint is not None:
            lead_ms = (self.t_endpoint - self.t_prefill_done) * 1000
            parts.append(
                f"prefill done {lead_ms:.0f} ms before the endpoint"
                if lead_ms >= 0
                else f"prefill done {-lead_ms:.0f} ms after the endpoint"
            )
        return ", ".join(parts)

    def stages(self) -> dict[str, float]:
        """Durations between consecutive present marks in time order, named ``"a→b"`` (seconds),
        for HUD and bench."""
        present = [(name, getattr(self, name)) for name in MARKS if getattr(self, name) is not None]
        present.sort(key=lambda mark: mark[1])  # stable: equal times keep the MARKS order
        return {f"{a[2:]}→{b[2:]}": tb - ta for (a, ta), (b, tb) in itertools.pairwise(present)}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready), with the derived figures added."""
        data = dataclasses.asdict(self)
        data["mouth_to_ear_s"] = self.mouth_to_ear_s
        data["cancel_latency_s"] = self.cancel_latency_s
        return data


def _in_order(trace: TurnTrace, names: list[str]) -> bool:
    present = [v for v in (getattr(trace, name) for name in names) if v is not None]
    return all(a <= b for a, b in itertools.pairwise(present))


def _span(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else end - start


class TraceRecorder:
    """Collects the marks of the turn in progress; safe to call from any thread.

    ``mark`` keeps the FIRST time a mark is set (first token, first sample …) unless
    ``overwrite`` is given (last sample played moves forward with every block).
    """

    def __init__(self, turn_id: int, kind: TurnKind) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {"turn_id": turn_id, "kind": kind}

    @property
    def turn_id(self) -> int:
        return int(self._values["turn_id"])

    def mark(self, name: str, t: float, *, overwrite: bool = False) -> None:
        if name not in MARKS and name not in ("t_cancel_requested", "t_cancel_done"):
            raise KeyError(f"unknown trace mark {name!r}")
        with self._lock:
            if overwrite or self._values.get(name) is None:
                self._values[name] = t

    def get(self, name: str) -> Any:
        with self._lock:
            return self._values.get(name)

    def set(self, **values: Any) -> None:
        """Set non-time fields (prompt_tokens, frames_used …) and explicit marks."""
        with self._lock:
            self._values.update(values)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] = int(self._values.get(name, 0)) + amount

    def freeze(self) -> TurnTrace:
        with self._lock:
            return TurnTrace(**self._values)


class TraceWriter:
    """Appends each finished turn's trace as one JSON line (the opt-in ``trace_file`` setting)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, trace: TurnTrace) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(trace.to_dict(), ensure_ascii=False) + "\n")
