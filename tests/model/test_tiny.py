"""tiny.py and the tiny tokenizer: the official file layout, seeded, loadable by every path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from ola_core.cli import main
from ola_core.model.tiny import TinyCheckpoint, write_tiny_checkpoint
from ola_core.model.tokenizer_files import QWEN2_CHAT_TEMPLATE, train_bpe, write_tokenizer_files

# The keys of THUdyh/Ola-7b's config.json (written by transformers 4.43.4 from the official OlaConfigQwen).
OFFICIAL_CONFIG_KEYS = {
    "_name_or_path",
    "architectures",
    "attention_dropout",
    "bos_token_id",
    "eos_token_id",
    "freeze_mm_mlp_adapter",
    "freeze_mm_vision_resampler",
    "freeze_speech_adapter",
    "hidden_act",
    "hidden_size",
    "initializer_range",
    "intermediate_size",
    "max_position_embeddings",
    "max_window_layers",
    "mm_hidden_size",
    "mm_projector_lr",
    "mm_projector_type",
    "mm_resampler_type",
    "mm_speech_encoder_lr",
    "mm_use_im_patch_token",
    "mm_use_im_start_end",
    "mm_vision_select_feature",
    "mm_vision_select_layer",
    "mm_vision_tower",
    "mm_vision_tower_lr",
    "model_type",
    "music_encoder",
    "num_attention_heads",
    "num_hidden_layers",
    "num_key_value_heads",
    "rms_norm_eps",
    "rope_scaling",
    "rope_theta",
    "sliding_window",
    "speech_encoder",
    "speech_encoder_ds_rate",
    "speech_encoder_hidden_size",
    "speech_encoder_type",
    "speech_projector_lr",
    "speech_projector_type",
    "tie_word_embeddings",
    "tokenizer_model_max_length",
    "tokenizer_padding_side",
    "torch_dtype",
    "transformers_version",
    "tune_mm_mlp_adapter",
    "tune_mm_vision_resampler",
    "tune_speech_adapter",
    "unfreeze_mm_vision_tower",
    "use_cache",
    "use_mm_proj",
    "use_sliding_window",
    "vocab_size",
}
# The official code hard-codes the ViT's size; a tiny checkpoint must state its own.
VIT_SIZE_KEYS = {"vision_num_layers", "vision_num_heads"}


def test_layout_is_official(tiny_checkpoint: TinyCheckpoint) -> None:
    model_dir = tiny_checkpoint.model_dir
    assert (
        model_dir.name == "Ola-7b"
        and tiny_checkpoint.speech_encoder_path.parent.name == "Ola_speech_encoders"
    )
    assert tiny_checkpoint.speech_encoder_path.name == "large-v3.pt"
    assert tiny_checkpoint.music_encoder_path.name == "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"
    config = json.loads((model_dir / "config.json").read_text())
    assert set(config) == OFFICIAL_CONFIG_KEYS | VIT_SIZE_KEYS  # no field of ours but the ViT size
    assert config["model_type"] == "ola_qwen" and config["speech_encoder_hidden_size"] == 96
    assert config["speech_encoder"] == "./pretrained/large-v3.pt"  # the authors' path, as in the real file
    generation = json.loads((model_dir / "generation_config.json").read_text())
    assert {
        k: generation[k] for k in ("top_k", "top_p", "temperature", "repetition_penalty", "do_sample")
    } == {
        "top_k": 20,
        "top_p": 0.8,
        "temperature": 0.7,
        "repetition_penalty": 1.05,
        "do_sample": True,
    }
    index = json.loads((model_dir / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) >= 2 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    keys: dict[str, str] = {}
    total = 0
    for shard in shards:
        with safe_open(str(model_dir / shard), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                keys[key] = shard
                tensor = f.get_tensor(key)
                total += tensor.numel() * tensor.element_size()
                expected = "F32" if ".beats_model." in key else "BF16"
                assert str(tensor.dtype) == {"F32": "torch.float32", "BF16": "torch.bfloat16"}[expected], key
    assert keys == index["weight_map"] and index["metadata"]["total_size"] == total


def test_wide_margins_change_only_lm_head(tmp_path: Path, tiny_checkpoint: TinyCheckpoint) -> None:
    plain = write_tiny_checkpoint(tmp_path / "plain", seed=0)
    differ = set()
    for shard in sorted(plain.model_dir.glob("model-*.safetensors")):
        with (
            safe_open(str(shard), framework="pt") as a,
            safe_open(str(tiny_checkpoint.model_dir / shard.name), framework="pt") as b,
        ):
            differ |= {k for k in a.keys() if not a.get_tensor(k).equal(b.get_tensor(k))}  # noqa: SIM118
    assert differ == {"lm_head.weight"}
    with pytest.raises(ValueError, match="tiny checkpoint only"):
        write_tiny_checkpoint(tmp_path / "full", full_size=True, wide_margins=True)


def test_seeded(tmp_path: Path, tiny_checkpoint: TinyCheckpoint) -> None:
    again = write_tiny_checkpoint(tmp_path / "again", seed=0, wide_margins=True)
    other = write_tiny_checkpoint(tmp_path / "other", seed=1)
    for shard in sorted(tiny_checkpoint.model_dir.glob("model-*.safetensors")):
        assert (again.model_dir / shard.name).read_bytes() == shard.read_bytes()
    first = sorted(tiny_checkpoint.model_dir.glob("model-*.safetensors"))[0]
    assert (other.model_dir / first.name).read_bytes() != first.read_bytes()
    assert other.speech_encoder_path.read_bytes() != tiny_checkpoint.speech_encoder_path.read_bytes()


def test_tokenizer_behaves_like_qwen2(tiny_checkpoint: TinyCheckpoint) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint.model_dir)
    specials = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    assert specials == [len(tokenizer) - 3, len(tokenizer) - 2, len(tokenizer) - 1]
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.bos_token is None  # as Qwen: no BOS is prepended
    text = "User's question in speech: 你好, café 12345!\n\n  done"
    ids = tokenizer(text).input_ids
    assert tokenizer.decode(ids) == text
    assert len(ids) < len(text.encode())  # merges were learned: not one token per byte
    assert tokenizer("<|im_start|>user").input_ids[0] == specials[1]  # special tokens are atomic
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert chat == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert json.loads((tiny_checkpoint.model_dir / "tokenizer_config.json").read_text())["chat_template"] == (
        QWEN2_CHAT_TEMPLATE
    )


def test_bpe_training_is_deterministic() -> None:
    text = "the cat sat on the mat; the cat ate the rat"
    assert train_bpe(text, 20) == train_bpe(text, 20)
    vocab, merges = train_bpe(text, 20)
    assert len(vocab) == 256 + len(merges) and ("Ġ", "the") in merges


@pytest.mark.slow
def test_full_size_tokenizer_puts_specials_at_qwen_ids(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    ids = write_tokenizer_files(tmp_path, first_special_id=151643)
    assert ids == {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert len(tokenizer) == 151646
    assert tokenizer("hi<|im_end|>").input_ids[-1] == 151645


def test_cli_writes_a_loadable_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tiny-checkpoint", str(tmp_path / "out"), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "out" / "Ola-7b") in printed and "large-v3.pt" in printed
    assert (tmp_path / "out" / "Ola-7b" / "model.safetensors.index.json").is_file()
    assert (tmp_path / "out" / "Ola_speech_encoders" / "large-v3.pt").is_file()


def test_shards_are_written_as_they_fill(tmp_path: Path) -> None:
    """The full-size writer's streaming path: ≤ max bytes per shard, official names, no leftovers."""
    import torch

    from ola_core.model.tiny import _write_shards

    tensors = ((f"t{i}", torch.full((256,), float(i))) for i in range(5))  # 1 kB each
    _write_shards(tmp_path, tensors, max_shard_bytes=2500)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    names = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [*names, "model.safetensors.index.json"]
    assert index["weight_map"] == {
        "t0": names[0],
        "t1": names[0],
        "t2": names[1],
        "t3": names[1],
        "t4": names[2],
    }
    assert index["metadata"]["total_size"] == 5 * 1024
    with safe_open(str(tmp_path / names[2]), framework="pt") as f:
        assert float(f.get_tensor("t4")[0]) == 4.0
