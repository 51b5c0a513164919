"""The numbers of a CosyVoice2 model, read from the official ``cosyvoice2.yaml``.

The official file is a HyperPyYAML object graph (``!new:cosyvoice.llm.llm.Qwen2LM`` …) that the
upstream code instantiates, importing training-only classes on the way. We only need numbers:
layer sizes, token rates, sampling settings. So the file is parsed with PyYAML, every ``!new:`` /
``!name:`` / ``!apply:`` node becomes a plain mapping, ``!ref <key>`` is resolved (including the
one arithmetic form the file uses, ``<chunk_size> * <token_mel_ratio>``), and the numbers are
copied into frozen dataclasses. Nothing in the file can make us import or run code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ola_core.errors import CorruptModelFileError
from ola_core.speech.cosyvoice.files import CONFIG_FILE_NAME

__all__ = ["CosyVoiceConfig", "FlowConfig", "HiftConfig", "LMConfig", "load_config", "parse_config"]


@dataclass(frozen=True)
class LMConfig:
    """Text → speech-token language model (``Qwen2LM``)."""

    hidden_size: int  # llm_input_size == llm_output_size (896 for 0.5B)
    speech_token_size: int  # 6561; ids speech_token_size.. +2 are eos / task / fill
    mix_ratio: tuple[int, int]  # bi-streaming: text tokens per speech tokens (5, 15)
    top_p: float
    top_k: int
    win_size: int  # repetition-aware sampling window
    tau_r: float


@dataclass(frozen=True)
class FlowConfig:
    """Speech tokens → mel (``CausalMaskedDiffWithXvec``)."""

    vocab_size: int
    input_size: int  # token embedding width == encoder width (512)
    mel_bins: int  # 80
    spk_embed_dim: int  # 192
    token_mel_ratio: int  # 2 mel frames per token
    pre_lookahead_len: int  # 3 future tokens the encoder looks at
    chunk_size: int  # 25 tokens: the static chunk of the causal encoder = the streaming hop
    encoder_heads: int
    encoder_linear_units: int
    encoder_blocks: int
    encoder_up_blocks: int  # fixed at 4 by the architecture
    estimator_channels: int  # 256
    estimator_head_dim: int
    estimator_heads: int
    estimator_blocks: int  # transformer blocks per down/mid/up stage
    estimator_mid_blocks: int
    inference_cfg_rate: float  # classifier-free guidance strength, 0.7
    n_timesteps: int  # Euler steps, 10


@dataclass(frozen=True)
class HiftConfig:
    """Mel → waveform (``HiFTGenerator`` with a ``ConvRNNF0Predictor``)."""

    sample_rate: int
    mel_bins: int
    base_channels: int
    nb_harmonics: int
    nsf_alpha: float
    nsf_sigma: float
    nsf_voiced_threshold: float
    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    n_fft: int
    hop_len: int
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    source_resblock_kernel_sizes: tuple[int, ...]
    source_resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    lrelu_slope: float
    audio_limit: float
    f0_cond_channels: int

    @property
    def samples_per_frame(self) -> int:
        """Waveform samples per mel frame (8 * 5 * 3 * 4 = 480 at 24 kHz)."""
        total = self.hop_len
        for rate in self.upsample_rates:
            total *= rate
        return total


@dataclass(frozen=True)
class CosyVoiceConfig:
    sample_rate: int
    token_frame_rate: int  # speech tokens per second (25)
    lm: LMConfig
    flow: FlowConfig
    hift: HiftConfig


class _NumbersLoader(yaml.SafeLoader):
    """PyYAML loader that turns HyperPyYAML tags into inert values."""


def _tagged(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return dict(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return list(loader.construct_sequence(node, deep=True))
    return loader.construct_scalar(node)


def _ref(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return _Ref(str(loader.construct_scalar(node)))


class _Ref(str):
    """A ``!ref`` expression, resolved once the whole document is read."""


_NumbersLoader.add_multi_constructor("!new:", _tagged)
_NumbersLoader.add_multi_constructor("!name:", _tagged)
_NumbersLoader.add_multi_constructor("!apply:", _tagged)
_NumbersLoader.add_constructor("!ref", _ref)
_REF_TOKEN = re.compile(r"<([\w.]+)>")


def _resolve(value: Any, top: dict[str, Any], depth: int = 0) -> Any:
    if depth > 20:
        raise ValueError("!ref cycle")
    if isinstance(value, _Ref):
        parts = _REF_TOKEN.findall(value)
        if len(parts) == 1 and value.strip() == f"<{parts[0]}>":
            return _resolve(top[parts[0]], top, depth + 1)
        # The only arithmetic the official file uses: a product, "<chunk_size> * <token_mel_ratio>".
        product: float = 1
        for factor in value.split("*"):
            name = _REF_TOKEN.fullmatch(factor.strip())
            number = _resolve(top[name.group(1)], top, depth + 1) if name else float(factor)
            product *= number
        return product
    if isinstance(value, dict):
        return {k: _resolve(v, top, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, top, depth) for v in value]
    return value


def parse_config(text: str) -> CosyVoiceConfig:
    """The numbers of a CosyVoice2 yaml document; raises ValueError/KeyError when they are not there."""
    raw = yaml.load(text, Loader=_NumbersLoader)
    if not isinstance(raw, dict):
        raise ValueError("not a mapping")
    top = _resolve(raw, raw)
    llm, flow, hift = top["llm"], top["flow"], top["hift"]
    sampling = llm.get("sampling", {}) or {}
    encoder, cfm = flow["encoder"], flow["decoder"]
    estimator, cfm_params = cfm["estimator"], cfm["cfm_params"]
    cfm_params = cfm_params.get("content", cfm_params)
    channels = list(estimator["channels"])
    if len(channels) != 1:
        raise ValueError(f"estimator channels {channels}: only one U-Net level (CosyVoice2) is supported")
    f0 = hift["f0_predictor"]
    istft = hift["istft_params"]
    return CosyVoiceConfig(
        sample_rate=int(top["sample_rate"]),
        token_frame_rate=int(top.get("token_frame_rate", 25)),
        lm=LMConfig(
            hidden_size=int(llm["llm_input_size"]),
            speech_token_size=int(llm["speech_token_size"]),
            mix_ratio=(int(llm.get("mix_ratio", [5, 15])[0]), int(llm.get("mix_ratio", [5, 15])[1])),
            top_p=float(sampling.get("top_p", 0.8)),
            top_k=int(sampling.get("top_k", 25)),
            win_size=int(sampling.get("win_size", 10)),
            tau_r=float(sampling.get("tau_r", 0.1)),
        ),
        flow=FlowConfig(
            vocab_size=int(flow["vocab_size"]),
            input_size=int(flow["input_size"]),
            mel_bins=int(flow["output_size"]),
            spk_embed_dim=int(flow["spk_embed_dim"]),
            token_mel_ratio=int(flow["token_mel_ratio"]),
            pre_lookahead_len=int(flow["pre_lookahead_len"]),
            chunk_size=int(encoder["static_chunk_size"]),
            encoder_heads=int(encoder["attention_heads"]),
            encoder_linear_units=int(encoder["linear_units"]),
            encoder_blocks=int(encoder["num_blocks"]),
            encoder_up_blocks=4,
            estimator_channels=int(channels[0]),
            estimator_head_dim=int(estimator["attention_head_dim"]),
            estimator_heads=int(estimator["num_heads"]),
            estimator_blocks=int(estimator["n_blocks"]),
            estimator_mid_blocks=int(estimator["num_mid_blocks"]),
            inference_cfg_rate=float(cfm_params["inference_cfg_rate"]),
            n_timesteps=10,  # fixed in the official flow inference
        ),
        hift=HiftConfig(
            sample_rate=int(hift["sampling_rate"]),
            mel_bins=int(hift["in_channels"]),
            base_channels=int(hift["base_channels"]),
            nb_harmonics=int(hift["nb_harmonics"]),
            nsf_alpha=float(hift["nsf_alpha"]),
            nsf_sigma=float(hift["nsf_sigma"]),
            nsf_voiced_threshold=float(hift["nsf_voiced_threshold"]),
            upsample_rates=tuple(int(v) for v in hift["upsample_rates"]),
            upsample_kernel_sizes=tuple(int(v) for v in hift["upsample_kernel_sizes"]),
            n_fft=int(istft["n_fft"]),
            hop_len=int(istft["hop_len"]),
            resblock_kernel_sizes=tuple(int(v) for v in hift["resblock_kernel_sizes"]),
            resblock_dilation_sizes=tuple(
                tuple(int(d) for d in ds) for ds in hift["resblock_dilation_sizes"]
            ),
            source_resblock_kernel_sizes=tuple(int(v) for v in hift["source_resblock_kernel_sizes"]),
            source_resblock_dilation_sizes=tuple(
                tuple(int(d) for d in ds) for ds in hift["source_resblock_dilation_sizes"]
            ),
            lrelu_slope=float(hift["lrelu_slope"]),
            audio_limit=float(hift["audio_limit"]),
            f0_cond_channels=int(f0["cond_channels"]),
        ),
    )


def load_config(model_dir: Path) -> CosyVoiceConfig:
    """Read ``model_dir/cosyvoice2.yaml``; a file we cannot understand raises CorruptModelFileError."""
    path = model_dir / CONFIG_FILE_NAME
    try:
        return parse_config(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise CorruptModelFileError(
            f"{path} is not a CosyVoice2 configuration we can read ({type(error).__name__}: {error}). "
            "Download the CosyVoice2-0.5B model folder again."
        ) from error
