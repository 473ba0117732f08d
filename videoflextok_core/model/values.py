"""Checks of config values: types from the spec annotations, ranges from `BOUNDS`.

`read` checks one config object against the hyperparameters of a spec dataclass (unknown keys,
missing required ones, and every value's type and range) and is what every builder of config.py
starts with. Errors are `UnsupportedConfigError`s that name the config path of the value.
"""

import json
import types
from dataclasses import MISSING, fields
from typing import Any, NamedTuple, Union, get_args, get_origin, get_type_hints

from .specs import fail as _fail

# Upper bounds far above any released model (d18_d28 in brackets). They keep a hostile config
# from asking for absurd tensors. They do not bound products: a config at every bound at once is
# far too big to build anywhere but on the meta device.
MAX_WIDTH = 65_536  # channels and widths [1792]
MAX_DEPTH = 1_024  # blocks [28]
MAX_LENGTH = 65_536  # positions along one axis: frames, registers, grid cells [256]
MAX_SEQUENCE = 1 << 24  # tokens of a packed sequence [padded to multiples of 128]
MAX_PATCH = 64  # side of a latent patch [2]
MAX_CODEBOOK = 2**31 - 1  # FSQ ids are int32 like upstream [64000]


class Bound(NamedTuple):
    lo: float
    hi: float
    why: str = ""


WIDTH = Bound(1, MAX_WIDTH)
LENGTH = Bound(1, MAX_LENGTH)
PROBABILITY = Bound(0.0, 1.0, "a probability")

BOUNDS: dict[str, Bound] = {  # by field name, for numbers and each number of a list
    **dict.fromkeys(
        (
            "dim",
            "dim_in",
            "dim_out",
            "channels_in",
            "channels_out",
            "extra_registers_dim",
            "head_dim",
            "frequency_embedding_size",
            "out_channels",
            "ch",
            "z_channels",
        ),
        WIDTH,
    ),
    "ch_mult": Bound(1, 64),
    "depth": Bound(1, MAX_DEPTH),
    "num_res_blocks": Bound(1, MAX_DEPTH),
    "intermediate_layers": Bound(0, MAX_DEPTH - 1),
    "adaLN_expansion": Bound(1, 16, "one modulation per packed stream"),
    "repa_patch_index": Bound(0, 15),
    "patch_sizes": Bound(1, MAX_PATCH),
    **dict.fromkeys(
        ("max_sizes", "t_max", "n_min", "n_max", "n_eval", "chunk_size", "vae_video_sizes"),
        LENGTH,
    ),
    "overlap_size_frames": Bound(0, MAX_LENGTH),
    "prefix_len": Bound(0, MAX_LENGTH),
    "max_seq_len": Bound(1, MAX_SEQUENCE),
    "pad_to_multiple": Bound(1, MAX_SEQUENCE),
    "levels": Bound(2, MAX_WIDTH, "FSQ levels per channel"),
    **dict.fromkeys(
        (
            "drop",
            "drop_path_rate",
            "dropout_prob",
            "drop_quant_p",
            "corrupt_tokens_p",
            "min_corrupt_tokens_p",
            "apply_corrupt_tokens_p",
            "keep_prefix_prob",
            "cond_sigma_range",
            "cond_noise_prob",
        ),
        PROBABILITY,
    ),
    "mlp_ratio": Bound(1 / 16, 64),
    "zipf_a": Bound(0, 100),
    "mode_scale": Bound(-100, 100),
    "max_timestep": Bound(1.0, 1e6, "the sampler starts at flow time 1"),
    "fps": Bound(1e-3, 1e3),
}


def show(value: Any) -> str:
    """A config value as JSON, cut short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _describe(hint) -> str:
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}"
        return f"a list of {len(args)} {_describe(args[0])}"
    return {bool: "bool", int: "int", float: "number", str: "string"}[hint]


def conform(value: Any, hint, where: str, bound: Bound | None = None) -> Any:
    """Check a JSON value against a spec annotation (and `bound`, for each number) and return it
    as the spec stores it: lists become tuples, integers of float fields become floats."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):  # `X | None`
        (inner,) = [a for a in get_args(hint) if a is not type(None)]
        return None if value is None else conform(value, inner, where, bound)
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(value, list | tuple):
            _fail(where, f"expected {_describe(hint)}, got {show(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif len(value) != len(args):
            _fail(where, f"expected {_describe(hint)}, got {len(value)} values")
        items = enumerate(zip(value, args))
        return tuple(conform(v, a, f"{where}[{i}]", bound) for i, (v, a) in items)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = number and isinstance(value, int)
    elif hint is float:  # an integer is a fine number; NaN, infinities and 1e400 are not
        ok = number and abs(value) < 1e300
    elif hint is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover
        raise AssertionError(f"no check for {hint}")
    if not ok:
        _fail(where, f"expected {_describe(hint)}, got {show(value)}")
    if hint in (int, float) and bound is not None and not bound.lo <= value <= bound.hi:
        why = f" ({bound.why})" if bound.why else ""
        _fail(where, f"{show(value)} is outside [{_num(bound.lo)}, {_num(bound.hi)}]{why}")
    return float(value) if hint is float else value


def check_values(value: Any, path: str):
    """Reject hydra interpolations and nested targets in plain-value positions."""
    if isinstance(value, str) and "${" in value:
        _fail(path, f"interpolations are not supported (found {show(value)})")
    if isinstance(value, dict):
        if "_target_" in value:
            _fail(path, f"unexpected nested object {show(value['_target_'])}")
        for k, v in value.items():
            check_values(v, f"{path}.{k}")
    if isinstance(value, list):
        for i, v in enumerate(value):
            check_values(v, f"{path}[{i}]")


def read(node: dict, path: str, spec_cls, *, skip=(), ignore=(), custom=()) -> dict:
    """Check `node` against the hyperparameters of `spec_cls` (its fields minus derived ones and
    `skip`) and return their values, with the official defaults filled in. Every value is checked
    by `conform` except those in `custom`, which the builder checks itself. Node keys in
    `ignore` are left to the caller."""
    hints = get_type_hints(spec_cls)
    params = {
        f.name: f for f in fields(spec_cls) if f.name not in skip and not f.metadata.get("derived")
    }
    out = {}
    for key, value in node.items():
        if key == "_target_" or key in ignore:
            continue
        if key == "_partial_":
            _fail(path, "`_partial_` is not expected here")
        if key not in params:
            _fail(path, f"unknown hyperparameter {show(key)} for {node['_target_']}")
        where = f"{path}.{key}"
        check_values(value, where)
        out[key] = value if key in custom else conform(value, hints[key], where, BOUNDS.get(key))
    for key, f in params.items():
        if key in out:
            continue
        if f.default is not MISSING:
            out[key] = f.default
        elif f.default_factory is not MISSING:
            out[key] = f.default_factory()
        else:
            _fail(path, f"missing required hyperparameter {key!r}")
    return out


def choice(path: str, name: str, value: Any, allowed) -> None:
    if value not in allowed:
        _fail(path, f"{name}={show(value)} is not supported (expected one of {list(allowed)})")
