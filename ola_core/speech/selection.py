"""Which voice speaks: a registry of synthesizers, automatic choice, and per-language routing.

Every voice engine is described by a :class:`VoiceEntry` in a module listed in
:data:`ENTRY_MODULES`; adding an engine is one line there (its module exports ``ENTRY``). The
modules are imported lazily, so an engine whose dependencies are missing (CosyVoice without its
model or GPU) only shows up as unavailable, with the reason, in :func:`list_voices`.

Automatic choice ("auto"): for every language, the available engine with the highest priority
that speaks it — CosyVoice when its model is present and a GPU is available, else hibari for
English and espeak-ng for Chinese and the rest. A user's explicit choice takes over the languages
that engine speaks; the others still get the automatic voice, so a Chinese sentence is never
sent to an English-only voice. :class:`LanguageRouter` does the per-sentence routing and presents
the result as one :class:`Synthesizer` at one sample rate.
"""

from __future__ import annotations

import importlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr

from ola_core.cancel import CancelToken
from ola_core.errors import SynthesisError
from ola_core.speech.espeak_voice import EspeakSynthesizer
from ola_core.speech.hibari_voice import HibariSynthesizer
from ola_core.speech.language import detect_language
from ola_core.speech.synthesizer import Synthesizer

__all__ = [
    "ENTRY_MODULES",
    "LanguageRouter",
    "VoiceContext",
    "VoiceEntry",
    "list_voices",
    "select_synthesizer",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceContext:
    """What an engine may need to decide whether it can run and to load itself."""

    # engine name -> the model folder the user chose (engines without one use their default place)
    model_dirs: Mapping[str, Path] = field(default_factory=dict)
    speed: float = 1.0  # speaking rate relative to the engine's normal pace


@dataclass(frozen=True)
class VoiceEntry:
    """One engine in the registry."""

    name: str
    label: str  # shown in the settings
    languages: frozenset[str]
    priority: int  # "auto" prefers higher
    create: Callable[[VoiceContext], Synthesizer]
    unavailable: Callable[[VoiceContext], str | None]  # None when it can run here, else why not


HIBARI = VoiceEntry(
    name="hibari",
    label="hibari (offline, English)",
    languages=HibariSynthesizer.languages,
    priority=50,
    create=lambda context: HibariSynthesizer(speed=context.speed),
    unavailable=lambda context: HibariSynthesizer.unavailable_reason(),
)
ESPEAK = VoiceEntry(
    name="espeak-ng",
    label="espeak-ng (offline, many languages, robotic)",
    languages=EspeakSynthesizer.languages,
    priority=10,
    create=lambda context: EspeakSynthesizer(words_per_minute=round(165 * context.speed)),
    unavailable=lambda context: EspeakSynthesizer.unavailable_reason(),
)

# Modules exporting ``ENTRY: VoiceEntry``, besides the two built-in offline voices above.
ENTRY_MODULES: tuple[str, ...] = ("ola_core.speech.cosyvoice.synthesizer",)


def _entries() -> tuple[list[VoiceEntry], dict[str, str]]:
    """All engines whose module imports, and the import failure of the others (name -> reason)."""
    entries, broken = [HIBARI, ESPEAK], {}
    for module in ENTRY_MODULES:
        try:
            entries.append(importlib.import_module(module).ENTRY)
        except Exception as error:  # a missing optional dependency must not break speech
            broken[module.rsplit(".", 1)[-1]] = f"{type(error).__name__}: {error}"
    return entries, broken


def list_voices(context: VoiceContext | None = None) -> list[tuple[VoiceEntry | None, str, str | None]]:
    """(entry, name, reason it cannot run here or None) for every engine, best first."""
    context = context or VoiceContext()
    entries, broken = _entries()
    rows: list[tuple[VoiceEntry | None, str, str | None]] = [
        (entry, entry.name, entry.unavailable(context))
        for entry in sorted(entries, key=lambda e: -e.priority)
    ]
    rows += [(None, name, reason) for name, reason in broken.items()]
    return rows


def select_synthesizer(preference: str = "auto", context: VoiceContext | None = None) -> Synthesizer:
    """The synthesizer to speak with: one engine, or a :class:`LanguageRouter` over several.

    Raises :class:`SynthesisError` when the preferred engine cannot run here (the message says
    why) or when no engine at all is available.
    """
    context = context or VoiceContext()
    available = [(entry, reason) for entry, _, reason in list_voices(context) if entry is not None]
    usable = [entry for entry, reason in available if reason is None]
    known = {entry.name: reason for entry, reason in available}
    if preference != "auto":
        if preference not in known:
            raise SynthesisError(
                f"There is no voice engine called {preference!r}; choose one of {', '.join(known)} or 'auto'."
            )
        if known[preference] is not None:
            raise SynthesisError(f"The {preference} voice cannot run here: {known[preference]}.")
        usable.sort(key=lambda entry: entry.name != preference)  # stable: the rest keep their priority
    if not usable:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in known.items())
        raise SynthesisError(
            f"No voice can run on this computer ({reasons}). Answers are shown as text only."
        )
    routes: dict[str, VoiceEntry] = {}
    for entry in usable:
        for language in entry.languages:
            routes.setdefault(language, entry)
    instances: dict[str, Synthesizer] = {}
    for entry in {id(e): e for e in [*routes.values(), usable[0]]}.values():
        instances[entry.name] = entry.create(context)
    if len(instances) == 1:
        return next(iter(instances.values()))
    return LanguageRouter(
        {language: instances[entry.name] for language, entry in routes.items()},
        fallback=instances[usable[0].name],
    )


class LanguageRouter(Synthesizer):
    """Sends each sentence to the synthesizer for its language; resamples to one output rate.

    The output rate is the highest member rate, so no member is downsampled below what it makes.
    """

    name = "auto"

    def __init__(self, routes: Mapping[str, Synthesizer], fallback: Synthesizer) -> None:
        self.routes = dict(routes)
        self.fallback = fallback
        members = {id(s): s for s in [*self.routes.values(), fallback]}.values()
        self._members = list(members)
        self.sample_rate = max(s.sample_rate for s in self._members)
        self.languages = frozenset(self.routes)
        self.name = "+".join(s.name for s in self._members)

    def synthesizer_for(self, text: str) -> Synthesizer:
        return self.routes.get(detect_language(text), self.fallback)

    def synthesize(
        self, text: str, voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        member = self.synthesizer_for(text)
        yield from self._resampled(
            member, member.synthesize(text, self._voice_of(member, voice), cancel), cancel
        )

    def streams_text_for(self, text: str) -> bool:
        return self.synthesizer_for(text).streams_text_for(text)

    def synthesize_pieces(
        self, pieces: Iterable[str], voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        """Routed by the first piece (the pipeline opens a stream once a sentence's first words
        exist, and asks :meth:`streams_text_for` about the same words)."""
        stream = iter(pieces)
        first = next(stream, None)
        if first is None:
            return
        member = self.synthesizer_for(first)
        chunks = member.synthesize_pieces(
            itertools.chain([first], stream), self._voice_of(member, voice), cancel
        )
        yield from self._resampled(member, chunks, cancel)

    @staticmethod
    def _voice_of(member: Synthesizer, voice: str | None) -> str | None:
        """A voice name belongs to one engine: passed only to an engine that knows it."""
        return voice if voice in member.voices() else None

    def _resampled(
        self, member: Synthesizer, chunks: Iterator[np.ndarray], cancel: CancelToken | None
    ) -> Iterator[np.ndarray]:
        """``member``'s chunks at the router's output rate."""
        resampler = (
            None
            if member.sample_rate == self.sample_rate
            else soxr.ResampleStream(member.sample_rate, self.sample_rate, 1, dtype="float32", quality="HQ")
        )
        for pcm in chunks:
            if cancel is not None and cancel.is_set():
                return
            yield pcm if resampler is None else resampler.resample_chunk(pcm)
        if resampler is not None:
            yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)

    def warm_up(self) -> None:
        for member in self._members:
            member.warm_up()

    def voices(self) -> tuple[str, ...]:
        return tuple(v for member in self._members for v in member.voices())
