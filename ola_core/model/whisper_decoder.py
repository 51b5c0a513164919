"""Whisper's text decoder and greedy transcription, for captions of what the user said.

Ola only runs Whisper's encoder, but ``large-v3.pt`` holds the whole model: its decoder turns the
encoder output the turn has already computed into the words and the language, at the cost of a
few dozen decoder steps. Parameter names are those of openai-whisper's ``model.decoder`` so the
file's ``decoder.*`` tensors load as they are; the decoding is openai-whisper's greedy
``DecodingOptions(language=None, without_timestamps=True)``: the language is detected from the
logits after ``<|startoftranscript|>`` (language tokens only), then the prompt is
``<|startoftranscript|><|lang|><|transcribe|><|notimestamps|>``, the blank and ``<|endoftext|>``
are suppressed at the first step, and the caller's ``suppress`` ids at every step.
``tests/model/test_whisper_decoder.py`` checks the ids against the openai-whisper package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ola_core.errors import CorruptModelFileError
from ola_core.model.encoder_files import _check_state, _torch_load
from ola_core.model.locator import SPEECH_ENCODERS_REPO, WHISPER_FILE_NAME
from ola_core.model.whisper import AttentionProjections

# openai-whisper's language order: language k is special token ``sot + 1 + k``.
LANGUAGE_CODES: tuple[str, ...] = tuple(
    [
        "en",
        "zh",
        "de",
        "es",
        "ru",
        "ko",
        "fr",
        "ja",
        "pt",
        "tr",
        "pl",
        "ca",
        "nl",
        "ar",
        "sv",
        "it",
        "id",
        "hi",
        "fi",
        "vi",
        "he",
        "uk",
        "el",
        "ms",
        "cs",
        "ro",
        "da",
        "hu",
        "ta",
        "no",
        "th",
        "ur",
        "hr",
        "bg",
        "lt",
        "la",
        "mi",
        "ml",
        "cy",
        "sk",
        "te",
        "fa",
        "lv",
        "bn",
        "sr",
        "az",
        "sl",
        "kn",
        "et",
        "mk",
        "br",
        "eu",
        "is",
        "hy",
        "ne",
        "mn",
        "bs",
        "kk",
        "sq",
        "sw",
        "gl",
        "mr",
        "pa",
        "si",
        "km",
        "sn",
        "yo",
        "so",
        "af",
        "oc",
        "ka",
        "be",
        "tg",
        "sd",
        "gu",
        "am",
        "yi",
        "lo",
        "uz",
        "fo",
        "ht",
        "ps",
        "tk",
        "nn",
        "mt",
        "sa",
        "lb",
        "my",
        "bo",
        "tl",
        "mg",
        "as",
        "tt",
        "haw",
        "ln",
        "ha",
        "ba",
        "jw",
        "su",
        "yue",
    ]
)
TEXT_VOCAB = 50257  # byte-level BPE tokens of the multilingual vocabulary; <|endoftext|> follows
BLANK_ID = 220  # " " alone, which Whisper must not start a transcript with


@dataclass(frozen=True)
class WhisperSpecials:
    """The special token ids of a multilingual Whisper vocabulary of ``n_vocab`` entries."""

    eot: int
    sot: int
    n_languages: int
    transcribe: int
    no_timestamps: int

    @classmethod
    def from_n_vocab(cls, n_vocab: int) -> WhisperSpecials:
        # openai-whisper: num_languages = n_vocab - 51765 - is_multilingual (99 for v1/v2, 100 for v3)
        n_languages = n_vocab - 51765 - 1
        if n_vocab < 51865 or n_languages > len(LANGUAGE_CODES):
            raise CorruptModelFileError(
                f"The Whisper file has a {n_vocab}-token vocabulary, not a multilingual Whisper's: "
                f"use {WHISPER_FILE_NAME} from {SPEECH_ENCODERS_REPO}."
            )
        eot = TEXT_VOCAB
        sot = eot + 1
        after_languages = (
            sot + 1 + n_languages
        )  # translate, transcribe, startoflm, startofprev, nospeech, notimestamps
        return cls(eot, sot, n_languages, after_languages + 1, after_languages + 5)

    @property
    def languages(self) -> range:
        return range(self.sot + 1, self.sot + 1 + self.n_languages)

    def always_suppressed(self) -> tuple[int, ...]:
        """translate, transcribe, sot, startofprev, startoflm, nospeech: never sampled (openai-whisper)."""
        t = self.transcribe
        return (self.sot, t - 1, t, t + 1, t + 2, t + 3)


class CachedAttention(AttentionProjections):
    """Multi-head attention whose keys/values are kept between steps (self) or computed once (cross)."""

    def keys_values(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return self.heads(self.key(y)), self.heads(self.value(y))

    def forward(self, x: Tensor, k: Tensor, v: Tensor, causal: bool) -> Tensor:
        n, t, c = x.shape
        a = F.scaled_dot_product_attention(self.heads(self.query(x)), k, v, is_causal=causal)
        return self.out(a.transpose(1, 2).reshape(n, t, c))


class DecoderBlock(nn.Module):
    """Pre-LayerNorm block: causal self-attention, cross-attention to the audio, 4× GELU MLP."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = CachedAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.cross_attn = CachedAttention(n_state, n_head)
        self.cross_attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)


@dataclass
class _LayerCache:
    self_k: Tensor | None
    self_v: Tensor | None
    cross_k: Tensor
    cross_v: Tensor


class WhisperTextDecoder(nn.Module):
    """Whisper's decoder (``decoder.*`` of the openai-whisper checkpoint); logits tied to the embedding."""

    def __init__(self, n_vocab: int, n_ctx: int, n_state: int, n_head: int, n_layer: int) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(n_vocab, n_state)
        self.positional_embedding = nn.Parameter(torch.empty(n_ctx, n_state))
        self.blocks = nn.ModuleList(DecoderBlock(n_state, n_head) for _ in range(n_layer))
        self.ln = nn.LayerNorm(n_state)

    @classmethod
    def from_dims(cls, dims: Mapping[str, int]) -> WhisperTextDecoder:
        return cls(
            dims["n_vocab"],
            dims["n_text_ctx"],
            dims["n_text_state"],
            dims["n_text_head"],
            dims["n_text_layer"],
        )

    def layers(self) -> list[DecoderBlock]:
        return [block for block in self.blocks if isinstance(block, DecoderBlock)]

    @property
    def n_ctx(self) -> int:
        return int(self.positional_embedding.shape[0])

    def start(self, audio: Tensor) -> list[_LayerCache]:
        """A fresh cache: each block's cross-attention keys/values of ``audio`` (n, n_audio_ctx, C)."""
        audio = audio.to(self.ln.weight.dtype)
        return [_LayerCache(None, None, *block.cross_attn.keys_values(audio)) for block in self.layers()]

    def forward(self, tokens: Tensor, cache: list[_LayerCache]) -> Tensor:
        """Logits (n, t, n_vocab) in fp32 for ``tokens`` (n, t) following those already in ``cache``."""
        offset = 0 if cache[0].self_k is None else cache[0].self_k.shape[2]
        x = self.token_embedding(tokens) + self.positional_embedding[offset : offset + tokens.shape[1]]
        for block, layer in zip(self.layers(), cache, strict=True):
            h = block.attn_ln(x)
            k, v = block.attn.keys_values(h)
            if layer.self_k is not None and layer.self_v is not None:
                k, v = torch.cat([layer.self_k, k], dim=2), torch.cat([layer.self_v, v], dim=2)
            layer.self_k, layer.self_v = k, v
            x = x + block.attn(h, k, v, causal=tokens.shape[1] > 1)
            x = x + block.cross_attn(block.cross_attn_ln(x), layer.cross_k, layer.cross_v, causal=False)
            x = x + block.mlp(block.mlp_ln(x))
        return (self.ln(x) @ self.token_embedding.weight.T).float()


@dataclass(frozen=True)
class Transcript:
    """Greedy decoding of one 30 s chunk: language, text token ids, and each choice's top-1 margin."""

    language: str
    ids: tuple[int, ...]  # after the prompt, up to (without) <|endoftext|>
    language_margin: float
    margins: tuple[float, ...]  # logit gap between the chosen token and the runner-up, per step


def _top1(logits: Tensor) -> tuple[int, float]:
    top = torch.topk(logits, 2)
    return int(top.indices[0]), float(top.values[0] - top.values[1])


@torch.no_grad()
def transcribe_greedy(
    decoder: WhisperTextDecoder,
    audio: Tensor,
    suppress: Iterable[int] = (),
    max_new_tokens: int | None = None,
) -> Transcript:
    """Transcribe one chunk's encoder output ``audio`` (n_audio_ctx, C) greedily; see the module docstring.

    ``suppress`` are the ids never chosen (openai-whisper's ``SuppressTokens`` list): captions
    pass :meth:`WhisperSpecials.always_suppressed` and the vocabulary's non-speech symbols.

    ``max_new_tokens`` defaults to openai-whisper's ``sample_len``: half the text context.
    """
    specials = WhisperSpecials.from_n_vocab(decoder.token_embedding.num_embeddings)
    device = decoder.ln.weight.device
    audio = audio.to(device)[None]
    languages = torch.tensor(list(specials.languages), device=device)

    # Language detection: the logits after <|startoftranscript|>, language tokens only.
    sot = torch.tensor([[specials.sot]], device=device)
    lang_logits = decoder(sot, decoder.start(audio))[0, -1, languages]
    lang_index, lang_margin = _top1(lang_logits)

    prompt = [specials.sot, specials.sot + 1 + lang_index, specials.transcribe, specials.no_timestamps]
    blocked = torch.tensor(sorted(set(suppress)), dtype=torch.long, device=device)
    first_blocked = torch.tensor([BLANK_ID, specials.eot], device=device)
    limit = max_new_tokens if max_new_tokens is not None else decoder.n_ctx // 2

    cache = decoder.start(audio)
    tokens = torch.tensor([prompt], device=device)
    ids: list[int] = []
    margins: list[float] = []
    for step in range(limit):
        logits = decoder(tokens, cache)[0, -1]
        if step == 0:
            logits[first_blocked] = -torch.inf
        if len(blocked):
            logits[blocked] = -torch.inf
        token, margin = _top1(logits)
        if token == specials.eot:
            break
        ids.append(token)
        margins.append(margin)
        if len(prompt) + len(ids) > decoder.n_ctx:  # no position left to feed it back
            break
        tokens = torch.tensor([[token]], device=device)
    return Transcript(LANGUAGE_CODES[lang_index], tuple(ids), lang_margin, tuple(margins))


def load_whisper_decoder(
    path: str | Path, dtype: torch.dtype = torch.float16, device: str | torch.device = "cpu"
) -> WhisperTextDecoder:
    """The decoder of an openai-whisper checkpoint (``decoder.*`` of ``large-v3.pt``), in ``dtype``."""
    what = f"Whisper speech encoder ({WHISPER_FILE_NAME})"
    checkpoint = _torch_load(path, what)
    dims, weights = checkpoint.get("dims"), checkpoint.get("model_state_dict")
    if not isinstance(dims, dict) or not isinstance(weights, dict):
        raise CorruptModelFileError(f"The {what} file {path} is not an openai-whisper checkpoint.")
    try:
        with torch.device("meta"):
            decoder = WhisperTextDecoder.from_dims(dims)
    except (KeyError, TypeError) as error:
        raise CorruptModelFileError(f"The {what} file {path} has unusable 'dims' ({error}).") from error
    state = {k.removeprefix("decoder."): v for k, v in weights.items() if k.startswith("decoder.")}
    _check_state(state, decoder, Path(path), what)
    state = {k: v.to(device=device, dtype=dtype) for k, v in state.items()}
    decoder.load_state_dict(state, strict=True, assign=True)
    return decoder.eval()
