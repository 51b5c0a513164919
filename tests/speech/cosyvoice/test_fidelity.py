"""Our runtime against reference numbers of the upstream classes on the same tiny folder.

tests/fixtures/cosyvoice/README.md says how reference.npz was made (upstream FunAudioLLM/CosyVoice
@ ace7c47, CPU fp32, the folder written by ``write_tiny_cosyvoice(seed=0)``). Audio and mels are
stored as float16, hence the tolerances.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ola_core.speech.cosyvoice.loading import LoadedCosyVoice
from ola_core.speech.cosyvoice.runtime import CosyVoiceRuntime, VoicePrompt
from ola_core.speech.cosyvoice.tiny import TINY_SPEAKER

REFERENCE = Path(__file__).parents[2] / "fixtures" / "cosyvoice" / "reference.npz"
EMPTY_TOKENS = torch.zeros(1, 0, dtype=torch.int32)
EMPTY_MEL = torch.zeros(1, 0, 80)


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def runtime(tiny_cosyvoice: LoadedCosyVoice) -> CosyVoiceRuntime:
    return CosyVoiceRuntime(tiny_cosyvoice, greedy=True, seed=7)


def _speaker(model: LoadedCosyVoice) -> VoicePrompt:
    return VoicePrompt.from_entry(model.speakers[TINY_SPEAKER])


def _prompted(model: LoadedCosyVoice, ref: dict[str, np.ndarray]) -> VoicePrompt:
    return VoicePrompt(
        embedding=_speaker(model).embedding,
        prompt_text=torch.tensor(ref["prompt_text_ids"][None], dtype=torch.int32),
        prompt_tokens=torch.tensor(ref["prompt_tokens"]),
        prompt_mel=torch.tensor(ref["prompt_mel"]),
    )


def _close(ours: torch.Tensor | np.ndarray, reference: np.ndarray, atol: float) -> None:
    ours = ours.squeeze().cpu().numpy() if isinstance(ours, torch.Tensor) else ours
    reference = reference.astype(np.float32).squeeze()
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=atol, rtol=0)


def test_text_ids_match_upstream_tokenizer(runtime: CosyVoiceRuntime, ref: dict[str, np.ndarray]) -> None:
    assert runtime.text_ids(str(ref["text"]))[0].tolist() == ref["text_ids"].tolist()
    assert runtime.text_ids(str(ref["prompt_text"]))[0].tolist() == ref["prompt_text_ids"].tolist()


def test_greedy_speech_tokens_match(runtime: CosyVoiceRuntime, ref: dict[str, np.ndarray]) -> None:
    ids = torch.tensor(ref["text_ids"][None], dtype=torch.int32)
    tokens = list(runtime.speech_tokens(ids, _speaker(runtime.model)))
    assert tokens == ref["tokens_greedy"].tolist()


def test_sampled_and_prompted_speech_tokens_match(
    tiny_cosyvoice: LoadedCosyVoice, ref: dict[str, np.ndarray]
) -> None:
    """Repetition-aware sampling draws like upstream from a seeded generator; prompts prefix the LM."""
    ids = torch.tensor(ref["text_ids"][None], dtype=torch.int32)
    sampled = CosyVoiceRuntime(tiny_cosyvoice, greedy=False, seed=123)
    assert list(sampled.speech_tokens(ids, _speaker(tiny_cosyvoice))) == ref["tokens_ras_seed123"].tolist()
    greedy = CosyVoiceRuntime(tiny_cosyvoice, greedy=True)
    assert (
        list(greedy.speech_tokens(ids, _prompted(tiny_cosyvoice, ref)))
        == ref["tokens_prompt_greedy"].tolist()
    )


def test_lm_scores_with_a_voice_prompt_match(runtime: CosyVoiceRuntime, ref: dict[str, np.ndarray]) -> None:
    """Teacher-forced scores (prompt text, prompt speech tokens, then 8 generated tokens)."""
    lm = runtime.model.lm
    voice = _prompted(runtime.model, ref)
    with torch.inference_mode():
        prefix = lm.prompt_embeddings(
            torch.tensor(ref["text_ids"][None]), voice.prompt_text, voice.prompt_tokens
        )
        following = lm.speech_embedding.weight[ref["tokens_prompt_greedy"][:8].tolist()].unsqueeze(0)
        hidden = lm.qwen.model(inputs_embeds=torch.cat([prefix, following], dim=1)).last_hidden_state
        scores = lm.llm_decoder(hidden[0, prefix.size(1) - 1 :]).log_softmax(-1)
    _close(scores, ref["lm_scores_prompt"], atol=1e-4)


@pytest.mark.parametrize(
    ("key", "count", "streaming", "finalize"),
    [("mel_full", None, False, True), ("mel_stream", None, True, True), ("mel_prefix31", 31, True, False)],
)
def test_flow_mels_match(
    tiny_cosyvoice: LoadedCosyVoice,
    ref: dict[str, np.ndarray],
    key: str,
    count: int | None,
    streaming: bool,
    finalize: bool,
) -> None:
    tokens = torch.tensor(ref["tokens_greedy"][None, :count], dtype=torch.int32)
    mel = tiny_cosyvoice.flow.mel(
        tokens,
        EMPTY_TOKENS,
        EMPTY_MEL,
        _speaker(tiny_cosyvoice).embedding,
        streaming=streaming,
        finalize=finalize,
    )
    assert mel is not None
    _close(mel, ref[key], atol=5e-3)


def test_flow_mel_with_a_voice_prompt_matches(
    tiny_cosyvoice: LoadedCosyVoice, ref: dict[str, np.ndarray]
) -> None:
    voice = _prompted(tiny_cosyvoice, ref)
    tokens = torch.tensor(ref["tokens_prompt_greedy"][None], dtype=torch.int32)
    assert voice.prompt_tokens is not None and voice.prompt_mel is not None
    mel = tiny_cosyvoice.flow.mel(
        tokens, voice.prompt_tokens, voice.prompt_mel, voice.embedding, streaming=False, finalize=True
    )
    assert mel is not None
    _close(mel, ref["mel_prompt"], atol=5e-3)


def test_non_streaming_waveform_matches(runtime: CosyVoiceRuntime, ref: dict[str, np.ndarray]) -> None:
    (audio,) = runtime.vocode_tokens(ref["tokens_greedy"].tolist(), _speaker(runtime.model), stream=False)
    _close(audio, ref["wav_full_seed7"], atol=2e-3)  # signal peaks ~0.034: float16 + fp32 reorderings


@pytest.mark.parametrize("prompted", [False, True])
def test_streamed_chunks_match(runtime: CosyVoiceRuntime, ref: dict[str, np.ndarray], prompted: bool) -> None:
    """Chunk boundaries, hop, mel/source/audio caches and cross-fades, chunk by chunk."""
    name = "wav_prompt_stream" if prompted else "wav_stream"
    tokens = ref["tokens_prompt_greedy" if prompted else "tokens_greedy"].tolist()
    voice = _prompted(runtime.model, ref) if prompted else _speaker(runtime.model)
    chunks = list(runtime.vocode_tokens(tokens, voice, stream=True))
    assert [len(c) for c in chunks] == ref[f"{name}_lengths"].tolist()
    _close(np.concatenate(chunks), ref[f"{name}_seed7"], atol=2e-3)


@pytest.mark.parametrize("prompted", [False, True])
def test_interleaved_text_streaming_tokens_match(
    runtime: CosyVoiceRuntime, ref: dict[str, np.ndarray], prompted: bool
) -> None:
    """Bi-streaming: text pieces in, fill tokens every 15 speech tokens, prompt spliced 5:15."""
    model = runtime.model
    voice = _prompted(model, ref) if prompted else _speaker(model)
    empty = torch.zeros(1, 0, dtype=torch.int32)
    tokens = model.lm.generate_interleaved(
        (runtime.text_ids(str(piece)) for piece in ref["bistream_pieces"]),
        voice.prompt_text if voice.prompt_text is not None else empty,
        voice.prompt_tokens if voice.prompt_tokens is not None else empty,
        runtime.sampler,
    )
    key = "tokens_bistream_prompt_greedy" if prompted else "tokens_bistream_greedy"
    assert list(tokens) == ref[key].tolist()
