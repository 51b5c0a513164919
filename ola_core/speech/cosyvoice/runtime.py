"""One utterance through LM → flow → HiFT, streamed in fixed token hops.

Streaming schedule (CosyVoice2's design, with a fixed hop): every ``hop`` (25) new speech tokens
plus the 3 look-ahead tokens, the flow decoder re-runs on the whole token prefix in chunk-causal
mode and the frames of the new hop are vocoded. The first hop is lengthened so that prompt +
first hop is a multiple of 25: chunk boundaries stay where training put them. The vocoder keeps
the last 8 mel frames, their excitation and their audio back; the next chunk re-vocodes them (now
with right context) and cross-fades over them with a Hamming window. The last chunk is everything
left once the LM ends. Upstream doubles the hop on the model object after each chunk and never
resets it (docs/speech-output-notes.md §1.3); here the hop is a constant, so every call's first
chunk comes after the same 28 tokens (0.84 s of speech). Upstream decodes that last chunk with full attention; we keep
it chunk-causal like the others, so every streamed frame equals one chunk-causal pass over the
whole utterance. Without streaming, one full-attention pass (as upstream).

One thread does everything: tokens are pulled from the LM generator and a chunk is decoded as
soon as enough are there. A cancel is checked before every LM step and every ODE step, and
nothing outlives the generator: no worker thread, no per-request dictionary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ola_core.speech.cosyvoice.lm import Sampler, greedy_sampler, ras_sampler
from ola_core.speech.cosyvoice.loading import LoadedCosyVoice

__all__ = ["CosyVoiceRuntime", "VoicePrompt"]

MEL_CACHE_FRAMES = 8


@dataclass(frozen=True)
class VoicePrompt:
    """Who speaks: an x-vector, and for cloned voices the prompt's transcript, tokens and mel."""

    embedding: Tensor  # (1, 192)
    prompt_text: Tensor | None = None  # (1, n) text ids of what the prompt clip says
    prompt_tokens: Tensor | None = None  # (1, P) speech tokens of the clip
    prompt_mel: Tensor | None = None  # (1, 2P, 80)

    @classmethod
    def from_entry(cls, entry: dict[str, Tensor]) -> VoicePrompt:
        """From an spk2info entry: built-in ({"embedding"}) or saved zero-shot (upstream's keys)."""
        return cls(
            embedding=entry["embedding"] if "flow_embedding" not in entry else entry["flow_embedding"],
            prompt_text=entry.get("prompt_text"),
            prompt_tokens=entry.get("flow_prompt_speech_token"),
            prompt_mel=entry.get("prompt_speech_feat"),
        )


@dataclass
class _VocoderCache:
    mel: Tensor  # (1, 80, 8)
    source: Tensor  # (1, 1, 8*480)
    audio: Tensor  # (1, 8*480)


class CosyVoiceRuntime:
    def __init__(self, model: LoadedCosyVoice, *, greedy: bool = False, seed: int = 0) -> None:
        self.model = model
        self.sampler: Sampler = greedy_sampler if greedy else ras_sampler(model.config.lm)
        self.seed = seed
        self.hop = model.config.flow.chunk_size  # 25: the flow's training chunk, so chunks stay final
        samples = MEL_CACHE_FRAMES * model.config.hift.samples_per_frame
        self._window = torch.from_numpy(np.hamming(2 * samples).astype(np.float32))

    def text_ids(self, text: str) -> Tensor:
        return torch.tensor([self.model.tokenizer(text)["input_ids"]], dtype=torch.int32)

    def speech_tokens(
        self, text_ids: Tensor, voice: VoicePrompt, should_stop: Callable[[], bool] = lambda: False
    ) -> Iterator[int]:
        empty = torch.zeros(1, 0, dtype=torch.int32)
        return self.model.lm.generate(
            text_ids,
            voice.prompt_text if voice.prompt_text is not None else empty,
            voice.prompt_tokens if voice.prompt_tokens is not None else empty,
            self.sampler,
            generator=torch.Generator().manual_seed(self.seed),
            should_stop=should_stop,
        )

    def synthesize(
        self,
        text_ids: Tensor,
        voice: VoicePrompt,
        *,
        stream: bool = True,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[np.ndarray]:
        """Float32 mono chunks at the model's rate; one chunk when not ``stream``."""
        tokens = self.speech_tokens(text_ids, voice, should_stop)
        yield from self.vocode_tokens(tokens, voice, stream=stream, should_stop=should_stop)

    def synthesize_pieces(
        self,
        pieces: Iterable[str],
        voice: VoicePrompt,
        *,
        stream: bool = True,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[np.ndarray]:
        """Audio while the text is still being written: ``pieces`` may block until the next one comes.

        Each piece is tokenized on its own (as upstream does with a text generator); the LM
        interleaves text and speech (:meth:`SpeechTokenLM.generate_interleaved`).
        """
        empty = torch.zeros(1, 0, dtype=torch.int32)
        tokens = self.model.lm.generate_interleaved(
            (self.text_ids(piece) for piece in pieces),
            voice.prompt_text if voice.prompt_text is not None else empty,
            voice.prompt_tokens if voice.prompt_tokens is not None else empty,
            self.sampler,
            generator=torch.Generator().manual_seed(self.seed),
            should_stop=should_stop,
        )
        yield from self.vocode_tokens(tokens, voice, stream=stream, should_stop=should_stop)

    def vocode_tokens(
        self,
        tokens: Iterator[int] | list[int],
        voice: VoicePrompt,
        *,
        stream: bool,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[np.ndarray]:
        """Speech tokens (as they come) -> audio chunks; the streaming schedule of the module doc."""
        generator = torch.Generator().manual_seed(self.seed)
        lookahead = self.model.config.flow.pre_lookahead_len
        prompt_len = 0 if voice.prompt_tokens is None else voice.prompt_tokens.size(1)
        first_hop = self.hop + math.ceil(prompt_len / self.hop) * self.hop - prompt_len
        seen: list[int] = []
        offset = 0
        cache: _VocoderCache | None = None
        for token in tokens:
            seen.append(token)
            hop = first_hop if offset == 0 else self.hop
            if not stream or len(seen) - offset < hop + lookahead:
                continue
            audio, cache = self._chunk(
                seen[: offset + hop + lookahead], voice, offset, cache, False, True, generator, should_stop
            )
            if audio is None:
                return
            offset += hop
            yield audio
        if should_stop() or not seen:
            return
        audio, _ = self._chunk(seen, voice, offset, cache, True, stream, generator, should_stop)
        if audio is not None and audio.size > 0:
            yield audio

    def _chunk(
        self,
        tokens: list[int],
        voice: VoicePrompt,
        offset: int,
        cache: _VocoderCache | None,
        finalize: bool,
        streaming: bool,
        generator: torch.Generator,
        should_stop: Callable[[], bool],
    ) -> tuple[np.ndarray | None, _VocoderCache | None]:
        model = self.model
        device = model.device
        prompt_tokens = (
            voice.prompt_tokens if voice.prompt_tokens is not None else torch.zeros(1, 0, dtype=torch.int32)
        )
        prompt_mel = (
            voice.prompt_mel
            if voice.prompt_mel is not None
            else torch.zeros(1, 0, model.config.flow.mel_bins)
        )
        mel = model.flow.mel(
            torch.tensor([tokens], dtype=torch.int32, device=device),
            prompt_tokens.to(device),
            prompt_mel.to(device),
            voice.embedding.to(device),
            streaming=streaming,
            finalize=finalize,
            should_stop=should_stop,
        )
        if mel is None or should_stop():
            return None, None
        mel = mel[:, :, offset * model.config.flow.token_mel_ratio :]
        cached_source = None
        if cache is not None:
            mel = torch.cat([cache.mel, mel], dim=2)
            cached_source = cache.source
        audio, source = model.hift(mel, cached_source, generator)
        if cache is not None:
            audio = self._cross_fade(audio, cache.audio.to(audio.device))
        new_cache = None
        if not finalize:
            keep = self._window.numel() // 2
            new_cache = _VocoderCache(mel[:, :, -MEL_CACHE_FRAMES:], source[:, :, -keep:], audio[:, -keep:])
            audio = audio[:, :-keep]
        return audio[0].float().cpu().numpy(), new_cache

    def _cross_fade(self, audio: Tensor, previous_tail: Tensor) -> Tensor:
        """Blend the first 8 frames of ``audio`` with the held-back tail of the previous chunk."""
        overlap = self._window.numel() // 2
        window = self._window.to(audio.device)
        audio = audio.clone()
        audio[:, :overlap] = (
            audio[:, :overlap] * window[:overlap] + previous_tail[:, -overlap:] * window[overlap:]
        )
        return audio
