"""The safetensors side of a checkpoint: shards, their headers, and whether they fit config.json.

Everything here reads only the index and the few-kB shard headers, never tensor data, and builds
no module from config.json before its repeated sizes (LLM layers, ViT blocks) agree with the
files: a config.json that says 100,000 layers is refused at once instead of building a giant
module tree. Then the expected tensors (from the config, on the meta device) are compared with
the headers, so that any missing, unexpected or mis-shaped tensor is named before loading —
transformers would otherwise fill a missing one with random values and carry on.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

from ola_core.errors import CorruptModelFileError, ModelFilesMissingError
from ola_core.model.configuration import OlaConfig
from ola_core.model.locator import INDEX_NAME, OLA_REPO, SINGLE_NAME

_MAX_HEADER_BYTES = 100 * 2**20
# Repeated blocks whose count config.json states: (key prefix, config field).
_REPEATED = (
    ("model.layers.", "num_hidden_layers"),
    ("model.vision_tower.vision_tower.blocks.", "vision_num_layers"),
)
# The shards may carry a copy of the speech encoders; the loader takes their .pt files instead.
_OPTIONAL_PREFIX = "model.speech_encoder."
_REDOWNLOAD = f"Download {OLA_REPO} again."


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as a shard header describes it."""

    shard: Path
    shape: tuple[int, ...]


def check_safetensors(model_dir: Path) -> dict[str, TensorEntry]:
    """Every tensor of the checkpoint by name, from complete, readable shards inside ``model_dir``.

    A truncated download is the common failure; reading each header costs a few kB, whereas
    safetensors would otherwise fail deep inside loading with a cryptic message.
    """
    index_path = model_dir / INDEX_NAME
    weight_map: dict[str, str] | None = None
    if index_path.is_file():
        weight_map = _read_weight_map(index_path)
        names = sorted(set(weight_map.values()))
    elif (model_dir / SINGLE_NAME).is_file():
        names = [SINGLE_NAME]
    else:
        raise ModelFilesMissingError(
            f"No weights in {model_dir}: neither {INDEX_NAME} nor {SINGLE_NAME} is there. "
            f"Download {OLA_REPO} completely."
        )
    root = model_dir.resolve()
    for name in names:
        if Path(name).is_absolute() or not (root / name).resolve().is_relative_to(root):
            raise CorruptModelFileError(
                f"{index_path} names the weight file {name!r}, which is outside {model_dir}: "
                f"refused. {_REDOWNLOAD}"
            )
    missing = [name for name in names if not (model_dir / name).is_file()]
    if missing:
        raise ModelFilesMissingError(
            f"{len(missing)} weight file(s) of {model_dir} are missing ({', '.join(missing)}): the download "
            f"did not finish. Download {OLA_REPO} again; finished files are kept."
        )
    tensors: dict[str, TensorEntry] = {}
    for name in names:
        shard = model_dir / name
        for key, shape in _read_header(shard).items():
            tensors[key] = TensorEntry(shard, shape)
    if weight_map is not None:
        for key, name in sorted(weight_map.items()):
            entry = tensors.get(key)
            if entry is None or entry.shard.name != name:
                raise CorruptModelFileError(
                    f"The tensor {key} is listed in {INDEX_NAME} under {name} but is not in that file. "
                    + _REDOWNLOAD
                )
        extra = sorted(set(tensors) - set(weight_map))
        if extra:
            raise CorruptModelFileError(
                f"The tensor {extra[0]} in {tensors[extra[0]].shard.name} is not listed in {INDEX_NAME}. "
                + _REDOWNLOAD
            )
    return tensors


def check_weights_fit_config(config: OlaConfig, tensors: dict[str, TensorEntry], model_dir: Path) -> None:
    """CorruptModelFileError naming the first tensor that config.json does not expect as stored.

    ``config`` must already hold the speech encoders' sizes (read from their files).
    """
    for prefix, field in _REPEATED:
        stored = {int(m.group(1)) for key in tensors if (m := re.match(re.escape(prefix) + r"(\d+)\.", key))}
        count = len(stored)
        if stored != set(range(count)) or getattr(config, field) != count:
            raise CorruptModelFileError(
                f"{model_dir / 'config.json'} says {field} = {getattr(config, field)}, but the weights hold "
                f"{count} ({prefix}N.*): the config and the weights do not belong together. {_REDOWNLOAD}"
            )
    from ola_core.model.modeling import OlaForCausalLM

    with torch.device("meta"):
        skeleton = OlaForCausalLM(config)
    expected = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
    for key, shape in sorted(expected.items()):
        entry = tensors.get(key)
        if entry is None:
            if key.startswith(_OPTIONAL_PREFIX):
                continue
            raise CorruptModelFileError(f"The weight {key} is missing from {model_dir}. {_REDOWNLOAD}")
        if entry.shape != shape:
            raise CorruptModelFileError(
                f"The weight {key} in {entry.shard.name} has shape {list(entry.shape)}, but config.json "
                f"implies {list(shape)}. {_REDOWNLOAD}"
            )
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise CorruptModelFileError(
            f"The weight {unexpected[0]} in {tensors[unexpected[0]].shard.name} is not part of Ola "
            f"({len(unexpected)} such tensor(s)). {_REDOWNLOAD}"
        )


def _read_weight_map(index_path: Path) -> dict[str, str]:
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
        if not isinstance(weight_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in weight_map.items()
        ):
            raise TypeError("weight_map must map tensor names to file names")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise CorruptModelFileError(f"{index_path} cannot be read ({error}): download it again.") from error
    return weight_map


def _read_header(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name → shape from one shard's header; CorruptModelFileError if damaged or truncated."""
    size = path.stat().st_size
    problem = None
    shapes: dict[str, tuple[int, ...]] = {}
    try:
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                problem = "it is empty or cut short"
            else:
                (header_len,) = struct.unpack("<Q", head)
                if header_len > min(size - 8, _MAX_HEADER_BYTES):
                    problem = "its header is damaged"
                else:
                    header = json.loads(f.read(header_len))
                    end = 0
                    for key, value in header.items():
                        if key == "__metadata__":
                            continue
                        shapes[key] = tuple(int(n) for n in value["shape"])
                        end = max(end, int(value["data_offsets"][1]))
                    if 8 + header_len + end > size:
                        problem = f"it is truncated ({size:,} of {8 + header_len + end:,} bytes)"
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        problem = "its header is damaged"
    if problem:
        raise CorruptModelFileError(
            f"The weight file {path} cannot be used: {problem}. Delete it and download {OLA_REPO} again."
        )
    return shapes
