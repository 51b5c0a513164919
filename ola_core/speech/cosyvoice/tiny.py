"""Write a tiny CosyVoice2 model folder with random weights in the official file layout.

Tests, the benchmark's ``--tiny`` mode and the fidelity harness (which loads these files with the
upstream classes) all use it, so every loading path runs without the 5 GB download. Sizes are
tiny except the flow encoder width, which upstream hard-codes to 512. The LM head is biased the
way a trained model behaves: it never emits the task/fill ids, and the end id gets a bias so
utterances end. Seeded: the same call writes the same bytes of weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from ola_core.model.tokenizer_files import write_tokenizer_files
from ola_core.speech.cosyvoice.config import parse_config
from ola_core.speech.cosyvoice.files import CONFIG_FILE_NAME, QWEN_DIR_NAME, SPEAKERS_FILE
from ola_core.speech.cosyvoice.flow import FlowDecoder
from ola_core.speech.cosyvoice.hift import HiftVocoder
from ola_core.speech.cosyvoice.lm import SpeechTokenLM

__all__ = ["TINY_SPEAKER", "write_tiny_cosyvoice"]

TINY_SPEAKER = "tiny_spk"
TINY_SPEECH_TOKENS = 100
TINY_QWEN: dict[str, Any] = {"vocab_size": 400, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 4096,
             "tie_word_embeddings": False}  # fmt: skip

# Sizes: tiny, or the release's (CosyVoice2-0.5B: Qwen2-0.5B, flow 512×6 + 4, estimator 256 ×
# (4 + 12 mid) blocks, HiFT 512) for memory and speed measurements.
TINY_SIZES: dict[str, Any] = {"speech_tokens": TINY_SPEECH_TOKENS, "encoder_heads": 2, "encoder_units": 64,
    "encoder_blocks": 1, "channels": 32, "head_dim": 16, "blocks": 1, "mid_blocks": 1, "heads": 2,
    "hift_channels": 32}  # fmt: skip
FULL_SIZES: dict[str, Any] = {"speech_tokens": 6561, "encoder_heads": 8, "encoder_units": 2048,
    "encoder_blocks": 6, "channels": 256, "head_dim": 64, "blocks": 4, "mid_blocks": 12, "heads": 8,
    "hift_channels": 512}  # fmt: skip
FULL_QWEN: dict[str, Any] = {"vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 32768,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True}  # fmt: skip

# The official cosyvoice2.yaml's structure (HyperPyYAML tags included, so upstream can load it);
# training-only sections are left out.
_YAML = """\
sample_rate: 24000
llm_input_size: {hidden}
llm_output_size: {hidden}
spk_embed_dim: 192
qwen_pretrain_path: ''
token_frame_rate: 25
token_mel_ratio: 2
chunk_size: 25
num_decoding_left_chunks: -1
llm: !new:cosyvoice.llm.llm.Qwen2LM
    llm_input_size: !ref <llm_input_size>
    llm_output_size: !ref <llm_output_size>
    speech_token_size: {speech_tokens}
    length_normalized_loss: True
    lsm_weight: 0
    mix_ratio: [5, 15]
    llm: !new:cosyvoice.llm.llm.Qwen2Encoder
        pretrain_path: !ref <qwen_pretrain_path>
    sampling: !name:cosyvoice.utils.common.ras_sampling
        top_p: 0.8
        top_k: 25
        win_size: 10
        tau_r: 0.1
flow: !new:cosyvoice.flow.flow.CausalMaskedDiffWithXvec
    input_size: 512
    output_size: 80
    spk_embed_dim: !ref <spk_embed_dim>
    output_type: 'mel'
    vocab_size: {speech_tokens}
    input_frame_rate: !ref <token_frame_rate>
    only_mask_loss: True
    token_mel_ratio: !ref <token_mel_ratio>
    pre_lookahead_len: 3
    encoder: !new:cosyvoice.transformer.upsample_encoder.UpsampleConformerEncoder
        output_size: 512
        attention_heads: {encoder_heads}
        linear_units: {encoder_units}
        num_blocks: {encoder_blocks}
        dropout_rate: 0.1
        positional_dropout_rate: 0.1
        attention_dropout_rate: 0.1
        normalize_before: True
        input_layer: 'linear'
        pos_enc_layer_type: 'rel_pos_espnet'
        selfattention_layer_type: 'rel_selfattn'
        input_size: 512
        use_cnn_module: False
        macaron_style: False
        static_chunk_size: !ref <chunk_size>
    decoder: !new:cosyvoice.flow.flow_matching.CausalConditionalCFM
        in_channels: 240
        n_spks: 1
        spk_emb_dim: 80
        cfm_params: !new:omegaconf.DictConfig
            content:
                sigma_min: 1e-06
                solver: 'euler'
                t_scheduler: 'cosine'
                training_cfg_rate: 0.2
                inference_cfg_rate: 0.7
                reg_loss_type: 'l1'
        estimator: !new:cosyvoice.flow.decoder.CausalConditionalDecoder
            in_channels: 320
            out_channels: 80
            channels: [{channels}]
            dropout: 0.0
            attention_head_dim: {head_dim}
            n_blocks: {blocks}
            num_mid_blocks: {mid_blocks}
            num_heads: {heads}
            act_fn: 'gelu'
            static_chunk_size: !ref <chunk_size> * <token_mel_ratio>
            num_decoding_left_chunks: !ref <num_decoding_left_chunks>
hift: !new:cosyvoice.hifigan.generator.HiFTGenerator
    in_channels: 80
    base_channels: {hift_channels}
    nb_harmonics: 8
    sampling_rate: !ref <sample_rate>
    nsf_alpha: 0.1
    nsf_sigma: 0.003
    nsf_voiced_threshold: 10
    upsample_rates: [8, 5, 3]
    upsample_kernel_sizes: [16, 11, 7]
    istft_params:
        n_fft: 16
        hop_len: 4
    resblock_kernel_sizes: [3, 7, 11]
    resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    source_resblock_kernel_sizes: [7, 7, 11]
    source_resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    lrelu_slope: 0.1
    audio_limit: 0.99
    f0_predictor: !new:cosyvoice.hifigan.f0_predictor.ConvRNNF0Predictor
        num_class: 1
        in_channels: 80
        cond_channels: {hift_channels}
get_tokenizer: !name:cosyvoice.tokenizer.tokenizer.get_qwen_tokenizer
    token_path: !ref <qwen_pretrain_path>
    skip_special_tokens: True
allowed_special: 'all'
"""

# Convs the official HiFT wraps in weight normalisation (saved as weight_g / weight_v pairs).
_WEIGHT_NORMED = (
    "conv_pre.",
    "ups.",
    "resblocks.",
    "source_resblocks.",
    "conv_post.",
    "f0_predictor.condnet.",
)


def _with_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(".weight") and key.startswith(_WEIGHT_NORMED) and value.dim() == 3:
            stem = key[: -len(".weight")]
            out[stem + ".weight_g"] = value.norm(dim=(1, 2), keepdim=True)
            out[stem + ".weight_v"] = value.clone()
        else:
            out[key] = value
    return out


def _write_onnx_stand_ins(out_dir: Path, speech_tokens: int, seed: int) -> None:
    """campplus.onnx and speech_tokenizer_v2.onnx with the real inputs/outputs and trivial insides.

    Speaker encoder: mean over time of the (1, T, 80) fbank, times a fixed (80, 192) matrix.
    Speech tokenizer: every 4th frame of the first mel bin of (1, 128, T) → |x|·1000 mod vocab
    (25 Hz tokens from 100 Hz frames, as the real one). Needs the ``onnx`` package (a dev extra).
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def save(graph: onnx.GraphProto, name: str) -> None:
        # IR 8 / opset 13: what every onnxruntime since 1.10 reads
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
        onnx.save(model, str(out_dir / name))

    weights = np.random.RandomState(seed).randn(80, 192).astype(np.float32) * 0.1
    save(
        helper.make_graph(
            [
                helper.make_node("ReduceMean", ["feat"], ["mean"], axes=[1], keepdims=0),
                helper.make_node("MatMul", ["mean", "W"], ["embedding"]),
            ],
            "campplus_stand_in",
            [helper.make_tensor_value_info("feat", TensorProto.FLOAT, [1, "T", 80])],
            [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 192])],
            [numpy_helper.from_array(weights, "W")],
        ),
        "campplus.onnx",
    )

    def const(name: str, values: list[int] | int | float, dtype: type = np.int64) -> onnx.TensorProto:
        return numpy_helper.from_array(np.array(values, dtype=dtype), name)

    save(
        helper.make_graph(
            [
                helper.make_node(
                    "Slice", ["feats", "starts", "ends", "axes", "steps"], ["picked"]
                ),  # (1, 1, T/4)
                helper.make_node("Squeeze", ["picked", "bin_axis"], ["row"]),
                helper.make_node("Abs", ["row"], ["magnitude"]),
                helper.make_node("Mul", ["magnitude", "scale"], ["scaled"]),
                helper.make_node("Cast", ["scaled"], ["whole"], to=TensorProto.INT64),
                helper.make_node("Mod", ["whole", "vocab"], ["token"]),
                helper.make_node("Cast", ["token"], ["indices"], to=TensorProto.INT32),
            ],
            "speech_tokenizer_stand_in",
            [
                helper.make_tensor_value_info("feats", TensorProto.FLOAT, [1, 128, "T"]),
                helper.make_tensor_value_info("feats_length", TensorProto.INT32, [1]),
            ],
            [helper.make_tensor_value_info("indices", TensorProto.INT32, [1, "T4"])],
            [
                const("starts", [0, 0]),
                const("ends", [1, 1 << 30]),
                const("axes", [1, 2]),
                const("steps", [1, 4]),
                const("bin_axis", [1]),
                const("scale", 1000.0, np.float32),
                const("vocab", speech_tokens),
            ],
        ),
        "speech_tokenizer_v2.onnx",
    )


def write_tiny_cosyvoice(
    out_dir: Path, seed: int = 0, end_bias: float = 2.0, onnx_stand_ins: bool = True, full_size: bool = False
) -> Path:
    """Write the folder; returns ``out_dir``. ``end_bias`` (logit) makes utterances end sooner.

    ``onnx_stand_ins``: also write the two ONNX encoders cloning needs (requires ``onnx``).
    ``full_size``: the release's shapes (about 2.5 GB of fp32 weights) instead of tiny ones.
    """
    sizes, qwen = (FULL_SIZES, FULL_QWEN) if full_size else (TINY_SIZES, TINY_QWEN)
    speech_tokens = sizes["speech_tokens"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    qwen_dir = out_dir / QWEN_DIR_NAME
    write_tokenizer_files(qwen_dir)
    qwen_config = Qwen2Config(**qwen)
    Qwen2ForCausalLM(qwen_config).save_pretrained(qwen_dir)  # upstream opens it; we only read config.json
    yaml_text = _YAML.format(hidden=qwen["hidden_size"], **sizes)
    (out_dir / CONFIG_FILE_NAME).write_text(yaml_text, encoding="utf-8")
    config = parse_config(yaml_text)

    lm = SpeechTokenLM(qwen_config, config.lm)
    with torch.no_grad():
        lm.llm_decoder.bias[speech_tokens + 1 :] = -1e4  # task / fill: never emitted
        lm.llm_decoder.bias[speech_tokens] = end_bias
    llm_state = {
        ("llm.model." + k[len("qwen.") :] if k.startswith("qwen.") else k): v
        for k, v in lm.state_dict().items()
    }
    torch.save(llm_state, out_dir / "llm.pt")
    flow = FlowDecoder(config.flow)
    with torch.no_grad():  # upstream initialises these randomly (xavier); zeros would hide bugs
        for name, parameter in flow.named_parameters():
            if name.endswith(("pos_bias_u", "pos_bias_v")):
                parameter.normal_(0, 0.1)
    torch.save(flow.state_dict(), out_dir / "flow.pt")
    hift = HiftVocoder(config.hift)
    with torch.no_grad():
        for name, parameter in hift.named_parameters():
            if name.endswith("alpha"):
                parameter.uniform_(0.5, 1.5)
    torch.save(_with_weight_norm(hift.state_dict()), out_dir / "hift.pt")
    torch.save({TINY_SPEAKER: {"embedding": torch.randn(1, 192)}}, out_dir / SPEAKERS_FILE)
    if onnx_stand_ins:
        _write_onnx_stand_ins(out_dir, speech_tokens, seed)
    return out_dir
