"""Weights that do not fit config.json are refused before anything is built, naming the tensor.

Each case damages a private copy of the tiny checkpoint the way a bad download or a hand-edited
folder would; the loader must raise one clear CorruptModelFileError, never load random values.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from ola_core.errors import CorruptModelFileError
from ola_core.model.loading import load_ola
from ola_core.model.tiny import TinyCheckpoint


def _index(model_dir: Path) -> dict[str, Any]:
    index: dict[str, Any] = json.loads((model_dir / "model.safetensors.index.json").read_text())
    return index


def _edit_config(model_dir: Path, **changes: Any) -> None:
    path = model_dir / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


def _rewrite_shard_of(model_dir: Path, key: str, change: Any) -> None:
    """Apply ``change(tensors)`` to the shard holding ``key`` and keep the index in step."""
    index = _index(model_dir)
    shard = index["weight_map"][key]
    tensors = load_file(str(model_dir / shard))
    change(tensors)
    save_file(tensors, str(model_dir / shard), metadata={"format": "pt"})
    kept = {k: v for k, v in index["weight_map"].items() if v != shard or k in tensors}
    kept |= dict.fromkeys(tensors, shard)
    index["weight_map"] = kept
    (model_dir / "model.safetensors.index.json").write_text(json.dumps(index))


def test_config_with_more_layers_than_the_weights(tiny_copy: TinyCheckpoint) -> None:
    _edit_config(tiny_copy.model_dir, num_hidden_layers=3)
    with pytest.raises(CorruptModelFileError, match=r"num_hidden_layers = 3, but the weights hold 2"):
        load_ola(tiny_copy.model_dir, device="cpu")


def test_config_with_100000_layers_fails_fast(tiny_copy: TinyCheckpoint) -> None:
    """Refused from the headers alone: no module tree, no memory estimate (which used to hang)."""
    _edit_config(tiny_copy.model_dir, num_hidden_layers=100_000)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            load_ola(tiny_copy.model_dir, device="cpu")
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=60)  # generous for a loaded machine; the old path took over 300 s
    assert not worker.is_alive(), "load_ola did not return for a 100,000-layer config"
    assert len(outcome) == 1 and isinstance(outcome[0], CorruptModelFileError)
    assert "num_hidden_layers = 100000, but the weights hold 2" in str(outcome[0])


def test_config_with_more_vit_blocks_than_the_weights(tiny_copy: TinyCheckpoint) -> None:
    _edit_config(tiny_copy.model_dir, vision_num_layers=3)
    with pytest.raises(CorruptModelFileError, match=r"vision_num_layers = 3, but the weights hold 2"):
        load_ola(tiny_copy.model_dir, device="cpu")


def test_missing_tensor_is_named(tiny_copy: TinyCheckpoint) -> None:
    key = "model.layers.1.mlp.down_proj.weight"
    _rewrite_shard_of(tiny_copy.model_dir, key, lambda tensors: tensors.pop(key))
    with pytest.raises(CorruptModelFileError, match=rf"^The weight {key} is missing from "):
        load_ola(tiny_copy.model_dir, device="cpu")


def test_tensor_listed_in_the_index_but_absent_from_its_shard(tiny_copy: TinyCheckpoint) -> None:
    key = "model.norm.weight"
    index = _index(tiny_copy.model_dir)
    shard = index["weight_map"][key]
    tensors = load_file(str(tiny_copy.model_dir / shard))
    del tensors[key]
    save_file(tensors, str(tiny_copy.model_dir / shard), metadata={"format": "pt"})
    with pytest.raises(CorruptModelFileError, match=rf"The tensor {key} is listed in .* not in that file"):
        load_ola(tiny_copy.model_dir, device="cpu")


def test_unexpected_tensor_is_named(tiny_copy: TinyCheckpoint) -> None:
    def add(tensors: dict[str, torch.Tensor]) -> None:
        tensors["model.layers.0.mlp.extra_proj.weight"] = torch.zeros(2, 2, dtype=torch.bfloat16)

    _rewrite_shard_of(tiny_copy.model_dir, "model.layers.0.mlp.up_proj.weight", add)
    with pytest.raises(
        CorruptModelFileError, match=r"model\.layers\.0\.mlp\.extra_proj\.weight .* not part of Ola"
    ):
        load_ola(tiny_copy.model_dir, device="cpu")


def test_mis_shaped_tensor_is_named_not_a_raw_runtime_error(tiny_copy: TinyCheckpoint) -> None:
    key = "model.layers.0.self_attn.q_proj.weight"

    def shrink(tensors: dict[str, torch.Tensor]) -> None:
        tensors[key] = tensors[key][:-1].clone()

    _rewrite_shard_of(tiny_copy.model_dir, key, shrink)
    with pytest.raises(
        CorruptModelFileError, match=rf"{key} .* has shape \[63, 64\], but config\.json implies \[64, 64\]"
    ):
        load_ola(tiny_copy.model_dir, device="cpu")


def test_config_size_that_the_weights_do_not_have(tiny_copy: TinyCheckpoint) -> None:
    _edit_config(tiny_copy.model_dir, intermediate_size=256)
    with pytest.raises(CorruptModelFileError, match=r"mlp\.\w+_proj\.weight .* has shape"):
        load_ola(tiny_copy.model_dir, device="cpu")


@pytest.mark.parametrize("name", ["../../etc/hostname", "/etc/hostname", "sub/../../outside.safetensors"])
def test_index_entry_outside_the_model_folder_is_refused(tiny_copy: TinyCheckpoint, name: str) -> None:
    index = _index(tiny_copy.model_dir)
    index["weight_map"]["model.norm.weight"] = name
    (tiny_copy.model_dir / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CorruptModelFileError, match=rf"names the weight file '{name}', which is outside"):
        load_ola(tiny_copy.model_dir, device="cpu")


def test_malformed_index_is_a_clear_error(tiny_copy: TinyCheckpoint) -> None:
    path = tiny_copy.model_dir / "model.safetensors.index.json"
    path.write_text(json.dumps({"weight_map": {"model.norm.weight": 3}}))
    with pytest.raises(CorruptModelFileError, match="cannot be read"):
        load_ola(tiny_copy.model_dir, device="cpu")
