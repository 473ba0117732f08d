"""Finding, reading and writing VideoFlexTok checkpoints (safetensors only, never pickle).

Three ways to name a checkpoint:
  * a Hub repo id ("EPFL-VILAB/videoflextok_d18_d28"): `config.json` + `model.safetensors`,
    downloaded (or taken from the cache) by huggingface_hub, which honours HF_HOME,
    HF_HUB_OFFLINE and the other HF_* variables;
  * a local directory holding those two files;
  * one `.safetensors` file whose metadata carries the config (upstream's
    `save_safetensors(..., metadata_dict=config)` route), either the hub-level config (keys
    `video_flex_tok`, `chunk_size`, ...) or a bare model node (`_target_`, `vae`, `encoder`, ...).
Metadata values are JSON or Python-literal text; they are parsed with json / ast.literal_eval,
which evaluate nothing.

Key mapping. The official state dict lives under a `VideoFlexTokFromHub` wrapper; ours drops two
levels of nesting. `KEY_MAP` is the one place where names differ:
    video_tokenizer.vae.vidtok.<rest>  <->  vae.<rest>
    video_tokenizer.<rest>             <->  <rest>            (encoder., decoder.)
Below those prefixes our module names equal the checkpoint's (config module names, `wq`, ...).
"""

import ast
import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .specs import ModelConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

# (official prefix, our prefix), most specific first.
KEY_MAP = (
    ("video_tokenizer.vae.vidtok.", "vae."),
    ("video_tokenizer.", ""),
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be found, read, or does not match its config."""


def official_to_ours(key: str) -> str:
    for official, ours in KEY_MAP:
        if key.startswith(official):
            return ours + key[len(official) :]
    raise CheckpointError(f"unexpected tensor {key!r} (expected a 'video_tokenizer.' prefix)")


def ours_to_official(key: str) -> str:
    for official, ours in KEY_MAP:
        if key.startswith(ours):
            return official + key[len(ours) :]
    raise AssertionError(key)  # pragma: no cover ("" matches everything)


# ----------------------------------------------------------------------------------------------
# Locating files
# ----------------------------------------------------------------------------------------------


def _parse_meta_value(text: str):
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
    return text


def config_from_metadata(path: str | Path) -> tuple[dict, bool]:
    """Config dict stored in a .safetensors header, and whether it was a bare model node."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    parsed = {k: _parse_meta_value(v) for k, v in meta.items() if k != "format"}
    if "video_flex_tok" in parsed:
        return parsed, False
    if "_target_" in parsed:
        return {"video_flex_tok": parsed}, True
    raise CheckpointError(
        f"{path}: the safetensors metadata carries no VideoFlexTok config (found keys "
        f"{sorted(meta)}); pass the directory with config.json instead"
    )


def resolve(ref: str | os.PathLike, revision: str | None = None) -> tuple[dict, Path]:
    """Hub id, directory or .safetensors file -> (config dict, weights path)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        cfg_path, weights = path / CONFIG_NAME, path / WEIGHTS_NAME
        for p in (cfg_path, weights):
            if not p.is_file():
                raise CheckpointError(
                    f"{path} has no {p.name} (expected {CONFIG_NAME} + {WEIGHTS_NAME})"
                )
        return _read_json(cfg_path), weights
    if path.is_file():
        if path.suffix != ".safetensors":
            raise CheckpointError(f"{path}: expected a .safetensors file or a checkpoint directory")
        return config_from_metadata(path)[0], path
    ref = str(ref)
    if ref.count("/") != 1 or ref.startswith((".", "/", "~")):
        raise CheckpointError(
            f"{ref!r} is neither a local checkpoint nor a Hub repo id (owner/name)"
        )
    return _download(ref, revision)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: cannot read the config ({e})") from None


def _download(repo_id: str, revision: str | None) -> tuple[dict, Path]:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        cfg = hf_hub_download(repo_id, CONFIG_NAME, revision=revision)
        weights = hf_hub_download(repo_id, WEIGHTS_NAME, revision=revision)
    except LocalEntryNotFoundError as e:
        raise CheckpointError(
            f"{repo_id}: not in the local Hugging Face cache and the Hub cannot be reached "
            f"(offline or HF_HUB_OFFLINE=1): {e}"
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as e:
        raise CheckpointError(f"{repo_id}: download failed: {e}") from None
    return _read_json(Path(cfg)), Path(weights)


# ----------------------------------------------------------------------------------------------
# Reading tensors
# ----------------------------------------------------------------------------------------------


def read_state_dict(
    path: Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors file under OUR names (official prefixes mapped), float tensors
    cast to `dtype` one at a time as they are read (files stored in bf16 or fp16 run in float32;
    a bf16 model never holds a float32 copy)."""
    with safe_open(str(path), framework="pt", device=str(device)) as f:
        keys = list(f.keys())
        prefixed = any(k.startswith("video_tokenizer.") for k in keys)
        out = {}
        for k in keys:
            name = official_to_ours(k if prefixed else "video_tokenizer." + k)
            tensor = f.get_tensor(k)
            out[name] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    return out


def check_state_dict(
    expected: dict[str, torch.Size], found: dict[str, torch.Tensor], source: str
) -> None:
    """Raise ONE CheckpointError listing missing, unexpected and mis-shaped tensors."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = sorted(
        f"{ours_to_official(k)}: checkpoint {tuple(found[k].shape)}, config {tuple(expected[k])}"
        for k in set(expected) & set(found)
        if tuple(found[k].shape) != tuple(expected[k])
    )
    if not (missing or unexpected or shapes):
        return
    lines = [f"{source} does not match its config:"]
    for title, items in (
        ("missing tensors", [ours_to_official(k) for k in missing]),
        ("unexpected tensors", [ours_to_official(k) for k in unexpected]),
        ("tensors with the wrong shape", shapes),
    ):
        if items:
            lines.append(f"  {len(items)} {title}:")
            lines += [f"    {item}" for item in items[:50]]
            if len(items) > 50:
                lines.append(f"    ... and {len(items) - 50} more")
    raise CheckpointError("\n".join(lines))


# ----------------------------------------------------------------------------------------------
# Writing (hub layout)
# ----------------------------------------------------------------------------------------------


def save_pretrained(model: torch.nn.Module, config: ModelConfig, directory: str | Path) -> Path:
    """Write `config.json` (modules in execution order) + `model.safetensors` (official names),
    the layout of the Hub repos, loadable by upstream and by `VideoFlexTok.from_pretrained`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # json.dumps without sort_keys keeps the module_dict order (= execution order).
    (directory / CONFIG_NAME).write_text(json.dumps(config.raw_dict, indent=2) + "\n")
    tensors = {
        ours_to_official(k): v.detach().to("cpu").contiguous()
        for k, v in model.state_dict().items()
    }
    save_file(tensors, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
    return directory


def save_single_file(model: torch.nn.Module, config: ModelConfig, path: str | Path) -> Path:
    """One .safetensors file with the config in its metadata (each top-level entry as JSON)."""
    meta = {"format": "pt"}
    meta.update({k: json.dumps(v) for k, v in config.raw_dict.items()})
    tensors = {
        ours_to_official(k): v.detach().to("cpu").contiguous()
        for k, v in model.state_dict().items()
    }
    save_file(tensors, str(path), metadata=meta)
    return Path(path)
