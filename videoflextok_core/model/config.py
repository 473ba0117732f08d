"""Safe interpreter of the VideoFlexTok hub config (`config.json` or safetensors metadata).

The official loader hands this hydra tree to `hydra.utils.instantiate` after checking every
`_target_` against an allow-list of 25 classes. We never import or execute anything named in a
config: `TARGETS` maps each allowed `_target_` string to the place in the tree where it may appear
and to a builder that reads that class's hyperparameters (with the official defaults) into a
frozen dataclass (specs.py). The allow-list is that table.

Every value is checked before it is used (values.py): its type against the spec field's
annotation (int, float, bool, str, list, null only where the annotation allows it) and its range
against `BOUNDS`.
Unknown targets, unknown keys, bad values, training-only features we cannot honour at inference,
and data-flow wiring we do not understand all raise `UnsupportedConfigError` with the config path
of the offending node, e.g. `video_flex_tok.decoder.module_dict.dec_transformer: ...`.

The encoder and decoder are `SequentialModuleDictWrapper`s: modules run in file order and talk
through string keys of a shared dict. `resolve_trunk` (wiring.py) follows those keys once,
symbolically, and turns them into a `TrunkPlan` (which module creates / transforms which token
stream, how streams are packed, which head reads what, which token-dropout modules the inference
inputs reach). Nothing downstream of config.py and wiring.py sees a string data key.
"""

import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from typing import Any, NamedTuple, get_type_hints

from torch import nn

from .specs import (
    FSQSpec,
    LinearHeadSpec,
    LinearLayerSpec,
    MinRFNoiseSpec,
    ModelConfig,
    ModuleSpec,
    NestedDropoutSpec,
    NoiseModuleSpec,
    NullCondSpec,
    PackerSpec,
    PatchEmbedderSpec,
    PerSampleOpSpec,
    PipelineSpec,
    PosEmbSpec,
    PrefixDropoutSpec,
    PrefixMinRFNoiseSpec,
    RegistersSpec,
    Role,
    TimeEmbedderSpec,
    TransformerHeadSpec,
    TransformerSpec,
    TrunkPlan,
    UnpackerSpec,
    UnsupportedConfigError,
    VidTokVAESpec,
)
from .specs import fail as _fail
from .values import BOUNDS, MAX_CODEBOOK, MAX_WIDTH
from .values import choice as _choice
from .values import conform as _conform
from .values import read as _read
from .values import show as _show
from .vidtok import VidTokSpec
from .wiring import Sym, resolve_trunk

# ----------------------------------------------------------------------------------------------
# The official class names (the table `TARGETS` below is the allow-list)
# ----------------------------------------------------------------------------------------------

P = "videoflextok."
T_WRAPPER = P + "wrappers.VideoFlexTok"
T_RESAMPLER = P + "resamplers.video_wrappers.VideoFlowMatchingResampler"  # legacy alias
T_PIPELINE = P + "flow_matching.pipelines.VideoMinRFPipeline"
T_PREFIX_NOISE = P + "flow_matching.noise_modules.PrefixMinRFNoiseModule"
T_MINRF_NOISE = P + "flow_matching.noise_modules.MinRFNoiseModule"
T_VIDTOK = P + "compressors.vidtok.VidTokVAE"
T_SEQUENTIAL = P + "model.utils.wrappers.SequentialModuleDictWrapper"
T_POSEMB = P + "model.utils.posembs.PositionalEmbeddingAdder"
T_PER_SAMPLE_OP = P + "model.utils.dict_ops.PerSampleOp"
T_CF_TO_CL = P + "model.utils.dict_ops.channels_first_to_last"
T_CL_TO_CF = P + "model.utils.dict_ops.channels_last_to_first"
T_TRANSFORMER = P + "model.trunks.transformers.FlexTransformer"
T_NESTED = P + "model.preprocessors.token_dropout.MaskedNestedDropout"
T_PREFIX = P + "model.preprocessors.token_dropout.MaskedPrefixDropout"
T_TIME = P + "model.preprocessors.time_embedding.TimestepEmbedder"
T_REGISTERS = P + "model.preprocessors.registers.RegistersTemporal2D"
T_PATCH = P + "model.preprocessors.patching.PatchEmbedder"
T_NULLCOND = P + "model.preprocessors.nullcond.LearnedNullCond"
T_LINEAR = P + "model.preprocessors.linear.LinearLayer"
T_PACKER = P + "model.preprocessors.flex_seq_packing.BlockWiseSequenceInterleavePacker"
T_UNPACKER = P + "model.postprocessors.seq_unpacking.SequenceInterleavedUnpacker"
T_LINEAR_HEAD = P + "model.postprocessors.heads.LinearHead"
T_TRANSFORMER_HEAD = P + "model.postprocessors.heads.TransformerHead"
T_PATCHES_HEAD = P + "model.postprocessors.heads.ToPatchesLinearHead"
T_FSQ = P + "regularizers.quantize_fsq.FSQ"

# Names upstream's inference code uses literally (wrappers.py, pipelines.py); everything else is
# wired through the config's own keys.
NESTED_DROPOUT = "dec_nested_dropout"  # the module that receives num_keep_tokens_list
PREFIX_MASKING = "dec_prefix_masking"  # the module that receives the conditioning prefix length
UNCOND_KEY = "eval_dropout_mask"  # data key of the CFG pass's "unconditional" flags
COND_LATENTS_KEY = "cond_vae_latents"  # data key the model writes conditioning latents under

VIDTOK_IDS = {"vidtok_kl_causal_488_16chn": VidTokSpec()}  # the packaged VidTok architectures
VIDTOK_OVERRIDABLE = ("ch", "ch_mult", "num_res_blocks", "z_channels", "norm_type", "init_pad_mode")
WEIGHT_INITS = ("xavier", "trunc_normal")
WEIGHT_INITS_ZERO = ("zero", "xavier", "trunc_normal")
DTYPES = (None, "float16", "fp16", "bfloat16", "bf16", "float32", "fp32")
MASK_MODES = (
    "full",
    "causal",
    "time_block_causal",
    "time_block_causal_last",
    "flexible_time_block_causal_last",
)
MODULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")  # no ".": it separates state-dict keys
MODULE_DICT_ATTRS = frozenset(dir(nn.ModuleDict()))  # names nn.ModuleDict cannot register

# ----------------------------------------------------------------------------------------------
# Builders: one per allowed class, (node, path) -> spec
# ----------------------------------------------------------------------------------------------


class Part(Enum):
    """Where in the config tree a target may appear."""

    ROOT = "video_flex_tok"
    VAE = "vae"
    TRUNK = "encoder / decoder"
    MODULE = "module_dict entry"
    OP = "per_sample_op"
    REGULARIZER = "regularizer"
    NOISE = "flow_matching_noise_module"
    PIPELINE = "pipeline"


def build(node: Any, path: str, part: Part):
    """The spec of one config object, by its `_target_`; refuses targets outside the allow-list
    and allowed ones in the wrong place."""
    expected = ", ".join(t for t, entry in TARGETS.items() if entry.part is part)
    if not isinstance(node, dict) or "_target_" not in node:
        _fail(path, f"expected an object with `_target_` (one of {expected})")
    target = node["_target_"]
    if not isinstance(target, str) or target not in TARGETS:
        _fail(path, f"target {_show(target)} is not in the allow-list of the official loader")
    if TARGETS[target].part is not part:
        _fail(path, f"{target} is allowed but not supported here (expected {expected})")
    return TARGETS[target].build(node, path)


def _plain(spec_cls) -> Callable[[dict, str], Any]:
    """The builder of a class whose hyperparameters need no check beyond their types."""
    return lambda node, path: spec_cls(**_read(node, path, spec_cls))


_PARAM_LAYERS = ("act_layer", "norm_layer")


def _layer_args(node: dict, path: str, allow_null_norm: bool) -> bool:
    """act_layer / norm_layer can only be expressed with non-allowed targets; `norm_layer: null`
    (no LayerNorm before a head) is the one variant the allow-list permits. Returns has_norm."""
    for key in _PARAM_LAYERS:
        if key in node:
            if key == "norm_layer" and node[key] is None and allow_null_norm:
                continue
            _fail(f"{path}.{key}", "custom layer classes are not supported")
    return node.get("norm_layer", 0) is not None


def _check_heads(kw: dict, path: str) -> None:
    """Upstream splits dim into dim // head_dim heads, each dim // heads wide."""
    dim, head_dim = kw["dim"], kw["head_dim"]
    if head_dim > dim:
        _fail(path, f"head_dim={head_dim} is larger than dim={dim}")
    if dim % (dim // head_dim):
        _fail(path, f"dim={dim} is not divisible by its {dim // head_dim} heads (dim // head_dim)")


def _no_mup(kw: dict, path: str) -> None:
    if kw["use_mup_readout"]:
        _fail(path, "use_mup_readout=True needs muP base shapes and cannot run at inference")


def _per_sample_op(node: dict, path: str) -> PerSampleOpSpec:
    kw = _read(node, path, PerSampleOpSpec, skip=("op",), ignore=("per_sample_op",))
    op = build(node.get("per_sample_op"), f"{path}.per_sample_op", Part.OP)
    return PerSampleOpSpec(**kw, op=op)


def _op_function(node: dict, path: str) -> str:
    """channels_first_to_last / channels_last_to_first, given as `_partial_` functions."""
    if set(node) != {"_target_", "_partial_"} or node["_partial_"] is not True:
        _fail(path, "expected exactly {_target_, _partial_: true}")
    return node["_target_"].rsplit(".", 1)[1]


def _patch_embedder(node: dict, path: str) -> PatchEmbedderSpec:
    kw = _read(node, path, PatchEmbedderSpec)
    _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS_ZERO)
    return PatchEmbedderSpec(**kw)


def _posemb(node: dict, path: str) -> PosEmbSpec:
    kw = _read(node, path, PosEmbSpec)
    _choice(path, "posemb_type", kw["posemb_type"], ("learnable_sum", "learnable_prod", "sincos"))
    _choice(path, "posemb_scaling", kw["posemb_scaling"], ("absolute", "interpolate"))
    if kw["posemb_type"] == "sincos":
        if len(kw["max_sizes"]) != 2:
            _fail(path, "sincos positional embeddings are 2-D only (upstream asserts this)")
        if kw["dim"] % 4:
            _fail(path, f"sincos positional embeddings need dim divisible by 4, got {kw['dim']}")
    elif len(set(kw["max_sizes"])) != 1:
        _fail(path, f"learnable posembs need equal max_sizes, got {list(kw['max_sizes'])}")
    return PosEmbSpec(**kw)


def _registers(node: dict, path: str) -> RegistersSpec:
    kw = _read(node, path, RegistersSpec)
    mode = kw["size_sampling_mode"]
    if not (mode in ("uniform", "powers_of_two") or mode.startswith("k=")):
        _fail(path, f"size_sampling_mode={_show(mode)} is not supported")
    if kw["n_min"] > kw["n_max"]:
        _fail(path, f"n_min={kw['n_min']} must be <= n_max={kw['n_max']}")
    _choice(path, "ordering_mode", kw["ordering_mode"], ("nested",))
    if kw["extra_registers_write_key"] is not None and kw["extra_registers_dim"] is None:
        _fail(path, "extra_registers_write_key needs extra_registers_dim")
    return RegistersSpec(**kw)


_CROSS_KEYS = ("prefix2prefix", "prefix2nonprefix", "nonprefix2prefix", "nonprefix2nonprefix")


def _packer(node: dict, path: str) -> PackerSpec:
    kw = _read(node, path, PackerSpec, custom=("cross_timestep_attention_config",))
    _choice(path, "mask_mode", kw["mask_mode"], MASK_MODES)
    if kw["max_seq_len"] is not None and kw["pad_to_multiple"] is not None:
        _fail(path, "only one of max_seq_len and pad_to_multiple may be set")
    cfg = kw["cross_timestep_attention_config"]
    if kw["mask_mode"] == "flexible_time_block_causal_last":
        if not isinstance(cfg, dict) or set(cfg) != set(_CROSS_KEYS):
            _fail(path, f"cross_timestep_attention_config must have exactly the keys {_CROSS_KEYS}")
        for k in _CROSS_KEYS[:3]:
            _choice(path, k, cfg[k], ("full", "none"))
        _choice(path, _CROSS_KEYS[3], cfg[_CROSS_KEYS[3]], ("full", "none", "causal"))
        kw["cross_timestep_attention_config"] = tuple((k, cfg[k]) for k in _CROSS_KEYS)
    else:
        kw["cross_timestep_attention_config"] = None
    _choice(path, "repa_mask_mode", kw["repa_mask_mode"], ("full", "time_block_causal"))
    return PackerSpec(**kw)


def _transformer(node: dict, path: str) -> TransformerSpec:
    _layer_args(node, path, allow_null_norm=False)
    kw = _read(node, path, TransformerSpec)
    _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS)
    for key in ("score_mod_read_key", "rope_forward_read_key"):
        if kw[key] is not None:
            _fail(path, f"{key} is read but nothing in a released pipeline writes it")
    _check_heads(kw, path)
    return TransformerSpec(**kw)


def _linear_head(node: dict, path: str) -> LinearHeadSpec:
    has_norm = _layer_args(node, path, allow_null_norm=True)
    skip = ("channels_out", "patch_sizes")
    kw = _read(node, path, LinearHeadSpec, skip=skip, ignore=_PARAM_LAYERS)
    _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS_ZERO)
    _choice(path, "dtype_override", kw["dtype_override"], DTYPES)
    _no_mup(kw, path)
    return LinearHeadSpec(**kw, norm=has_norm)


def _patches_head(node: dict, path: str) -> LinearHeadSpec:
    """ToPatchesLinearHead: a LinearHead to channels_out * prod(patch_sizes), unpatchified."""
    has_norm = _layer_args(node, path, allow_null_norm=True)
    kw = _read(node, path, LinearHeadSpec, skip=("dim_out",), ignore=_PARAM_LAYERS)
    if kw["channels_out"] is None or kw["patch_sizes"] is None:
        _fail(path, "missing required hyperparameter 'channels_out' or 'patch_sizes'")
    kw["dim_out"] = kw["channels_out"] * math.prod(kw["patch_sizes"])
    _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS_ZERO)
    _choice(path, "dtype_override", kw["dtype_override"], DTYPES)
    _no_mup(kw, path)
    return LinearHeadSpec(**kw, norm=has_norm)


def _transformer_head(node: dict, path: str) -> TransformerHeadSpec:
    _layer_args(node, path, allow_null_norm=False)
    kw = _read(node, path, TransformerHeadSpec)
    _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS)
    _choice(path, "dtype_override", kw["dtype_override"], DTYPES)
    _no_mup(kw, path)
    _check_heads(kw, path)
    return TransformerHeadSpec(**kw)


def _linear_layer(node: dict, path: str) -> LinearLayerSpec:
    kw = _read(node, path, LinearLayerSpec)
    _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS_ZERO)
    _choice(path, "dtype_override", kw["dtype_override"], DTYPES)
    return LinearLayerSpec(**kw)


def _null_cond(node: dict, path: str) -> NullCondSpec:
    kw = _read(node, path, NullCondSpec)
    if kw["replace_with_single_token"]:
        _fail(path, "replace_with_single_token=True breaks the time-interleaved packing")
    return NullCondSpec(**kw)


def _time_embedder(node: dict, path: str) -> TimeEmbedderSpec:
    kw = _read(node, path, TimeEmbedderSpec)
    _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS)
    if kw["temb_as_tokens"]:
        _fail(path, "temb_as_tokens=True cannot be packed with time-interleaved streams")
    return TimeEmbedderSpec(**kw)


def _fsq(node: dict, path: str) -> FSQSpec:
    kw = _read(node, path, FSQSpec)
    if not kw["levels"]:
        _fail(f"{path}.levels", "needs at least one channel")
    if math.prod(kw["levels"]) > MAX_CODEBOOK:
        _fail(f"{path}.levels", f"codebook {math.prod(kw['levels'])} > {MAX_CODEBOOK} (int32 ids)")
    return FSQSpec(**kw)


def _vae(node: dict, path: str) -> VidTokVAESpec:
    kw = _read(node, path, VidTokVAESpec, skip=("arch",))
    if kw["tokenizer_id"] not in VIDTOK_IDS:
        _fail(path, f"tokenizer_id={_show(kw['tokenizer_id'])} is not one of {list(VIDTOK_IDS)}")
    if kw["chunk_size"] is not None:
        _fail(path, "VidTokVAE.chunk_size must be null (internal VAE chunking is not supported)")
    return VidTokVAESpec(**kw, arch=VIDTOK_IDS[kw["tokenizer_id"]])


def _pipeline(node: dict, path: str) -> PipelineSpec:
    if node.get("_partial_") is not True:
        _fail(path, "the pipeline must be a `_partial_: true` object (it receives the decoder)")
    kw = _read(node, path, PipelineSpec, ignore=("_partial_",))
    if kw["noise_read_key"] is not None or kw["target_sizes_read_key"] is not None:
        _fail(path, "noise_read_key / target_sizes_read_key are not supported (never set at eval)")
    return PipelineSpec(**kw, pin_conditioning=kw["cond_vae_latents_key"] == COND_LATENTS_KEY)


def _module_dict(node: dict, path: str) -> list[tuple[str, ModuleSpec]]:
    """SequentialModuleDictWrapper: its modules, in file order (= execution order)."""
    if set(node) != {"_target_", "module_dict"} or not isinstance(node["module_dict"], dict):
        _fail(path, "expected exactly {_target_, module_dict: {...}}")
    modules = []
    for name, sub in node["module_dict"].items():
        where = f"{path}.module_dict.{name}"
        if not MODULE_NAME.fullmatch(name) or name in MODULE_DICT_ATTRS:
            _fail(where, f"module name {_show(name)} is not a name nn.ModuleDict can register")
        modules.append((name, build(sub, where, Part.MODULE)))
    return modules


class Parts(NamedTuple):
    """The objects under `video_flex_tok`, built but not yet checked against each other."""

    vae: VidTokVAESpec
    fsq: FSQSpec
    pipeline: PipelineSpec
    noise_module: NoiseModuleSpec | None
    encoder: list[tuple[str, ModuleSpec]]
    decoder: list[tuple[str, ModuleSpec]]


_ROOT_KEYS = ("vae", "encoder", "decoder", "regularizer", "flow_matching_noise_module", "pipeline")


def _root(node: dict, path: str) -> Parts:
    for key in node:
        if key != "_target_" and key not in _ROOT_KEYS:
            _fail(path, f"unknown hyperparameter {_show(key)}")
    for key in ("vae", "encoder", "decoder", "regularizer", "pipeline"):
        if node.get(key) is None:
            _fail(path, f"missing required part {key!r}")
    noise = node.get("flow_matching_noise_module")
    return Parts(
        vae=build(node["vae"], f"{path}.vae", Part.VAE),
        fsq=build(node["regularizer"], f"{path}.regularizer", Part.REGULARIZER),
        pipeline=build(node["pipeline"], f"{path}.pipeline", Part.PIPELINE),
        noise_module=None
        if noise is None
        else build(noise, f"{path}.flow_matching_noise_module", Part.NOISE),
        encoder=build(node["encoder"], f"{path}.encoder", Part.TRUNK),
        decoder=build(node["decoder"], f"{path}.decoder", Part.TRUNK),
    )


class Target(NamedTuple):
    part: Part
    build: Callable[[dict, str], Any]


# The allow-list of the official loader (its ALLOWED_TARGETS, 25 strings), each with the place it
# may appear in and its builder.
TARGETS: dict[str, Target] = {
    T_WRAPPER: Target(Part.ROOT, _root),
    T_PIPELINE: Target(Part.PIPELINE, _pipeline),
    T_PREFIX_NOISE: Target(Part.NOISE, _plain(PrefixMinRFNoiseSpec)),
    T_MINRF_NOISE: Target(Part.NOISE, _plain(MinRFNoiseSpec)),
    T_RESAMPLER: Target(Part.ROOT, _root),  # legacy alias of VideoFlexTok
    T_VIDTOK: Target(Part.VAE, _vae),
    T_SEQUENTIAL: Target(Part.TRUNK, _module_dict),
    T_POSEMB: Target(Part.MODULE, _posemb),
    T_PER_SAMPLE_OP: Target(Part.MODULE, _per_sample_op),
    T_CF_TO_CL: Target(Part.OP, _op_function),
    T_CL_TO_CF: Target(Part.OP, _op_function),
    T_TRANSFORMER: Target(Part.MODULE, _transformer),
    T_NESTED: Target(Part.MODULE, _plain(NestedDropoutSpec)),
    T_PREFIX: Target(Part.MODULE, _plain(PrefixDropoutSpec)),
    T_TIME: Target(Part.MODULE, _time_embedder),
    T_REGISTERS: Target(Part.MODULE, _registers),
    T_PATCH: Target(Part.MODULE, _patch_embedder),
    T_NULLCOND: Target(Part.MODULE, _null_cond),
    T_LINEAR: Target(Part.MODULE, _linear_layer),
    T_PACKER: Target(Part.MODULE, _packer),
    T_UNPACKER: Target(Part.MODULE, _plain(UnpackerSpec)),
    T_LINEAR_HEAD: Target(Part.MODULE, _linear_head),
    T_TRANSFORMER_HEAD: Target(Part.MODULE, _transformer_head),
    T_PATCHES_HEAD: Target(Part.MODULE, _patches_head),
    T_FSQ: Target(Part.REGULARIZER, _fsq),
}
ALLOWED_TARGETS = tuple(TARGETS)

# ----------------------------------------------------------------------------------------------
# Top level
# ----------------------------------------------------------------------------------------------


def _vidtok_overrides(vae: VidTokVAESpec, overrides: Any) -> VidTokVAESpec:
    """Our fixtures' `vidtok_overrides`: some numbers of the packaged VidTok architecture."""
    changes = {}
    if overrides is not None:
        if not isinstance(overrides, dict):
            _fail("vidtok_overrides", "must be an object")
        hints = get_type_hints(VidTokSpec)
        for key, value in overrides.items():
            where = f"vidtok_overrides.{key}"
            if key not in VIDTOK_OVERRIDABLE:
                _fail(where, f"not overridable (allowed: {VIDTOK_OVERRIDABLE})")
            changes[key] = _conform(value, hints[key], where, BOUNDS.get(key))
    arch = replace(vae.arch, **changes)
    if len(arch.ch_mult) != 4:
        _fail("vidtok_overrides.ch_mult", "VidTok 4x8x8 needs exactly 4 levels")
    if arch.ch * max(arch.ch_mult) > MAX_WIDTH:
        _fail("vidtok_overrides.ch", f"widest level ch * max(ch_mult) exceeds {MAX_WIDTH}")
    _choice("vidtok_overrides", "norm_type", arch.norm_type, ("layernorm", "groupnorm"))
    modes = ("replicate", "constant", "reflect")
    _choice("vidtok_overrides", "init_pad_mode", arch.init_pad_mode, modes)
    return replace(vae, arch=arch)


def _top(cfg: dict, key: str, hint, default):
    return _conform(cfg[key], hint, key, BOUNDS.get(key)) if key in cfg else default


def _preprocess_args(value: Any) -> tuple[tuple[str, Any], ...]:
    """Stored as given (upstream keeps it as an attribute); we read only its frame rate."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        _fail("video_preprocess_args", "must be an object")
    if value.get("fps") is not None:
        _conform(value["fps"], float, "video_preprocess_args.fps", BOUNDS["fps"])
    return tuple(value.items())


def _decoder_inputs(dec_mods: list[tuple[str, ModuleSpec]], path: str) -> dict[str, type]:
    """The data keys upstream's decode sets, each with the class of module it drives: keep_k
    under the key of `dec_nested_dropout`, the prefix length under that of `dec_prefix_masking`,
    the CFG flags under "eval_dropout_mask"."""
    names = dict(dec_mods)
    inputs = {UNCOND_KEY: NullCondSpec}
    for name, cls in ((NESTED_DROPOUT, NestedDropoutSpec), (PREFIX_MASKING, PrefixDropoutSpec)):
        if name not in names:
            continue
        spec = names[name]
        if not isinstance(spec, cls):
            _fail(f"{path}.module_dict.{name}", f"{name!r} must be a {cls.__name__}")
        key = (
            spec.eval_keep_k_read_key if cls is NestedDropoutSpec else spec.eval_prefix_len_read_key
        )
        if key is None:
            continue
        if key in inputs:
            _fail(f"{path}.module_dict.{name}", f"its eval key {key!r} carries another input")
        inputs[key] = cls
    return inputs


def parse_config(config: dict | str) -> ModelConfig:
    """Interpret a hub config (dict or JSON text) into a `ModelConfig`. Raises
    `UnsupportedConfigError` naming the offending path for anything we cannot run faithfully."""
    try:
        raw = config if isinstance(config, str) else json.dumps(config)
        cfg = json.loads(raw)
    except (TypeError, ValueError, RecursionError) as e:
        raise UnsupportedConfigError(f"config is not valid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise UnsupportedConfigError("config is not a JSON object")
    if "video_flex_tok" not in cfg:
        _fail("video_flex_tok", "missing (the model's entry in the config object)")
    # Other top-level keys are ignored, as upstream does.
    path = "video_flex_tok"
    parts: Parts = build(cfg["video_flex_tok"], path, Part.ROOT)
    vae = _vidtok_overrides(parts.vae, cfg.get("vidtok_overrides"))
    fsq, pipe = parts.fsq, parts.pipeline

    chunk = _top(cfg, "chunk_size", int, 17)
    overlap = _top(cfg, "overlap_size_frames", int, 1)
    sizes = _top(cfg, "vae_video_sizes", tuple[int, int, int], (5, 32, 32))
    tdf = vae.arch.time_downsample_factor
    if (chunk - 1) % tdf:
        _fail("chunk_size", f"must be 1 + {tdf}k frames, got {chunk}")
    if overlap >= chunk:
        _fail("overlap_size_frames", f"must be in [0, chunk_size), got {overlap}")
    if overlap > 0 and (overlap - 1) % tdf != 0:
        _fail("overlap_size_frames", f"must be 0 or 1 + {tdf}k, got {overlap}")
    if sizes[0] != (chunk - 1) // tdf + 1:
        _fail("vae_video_sizes", f"must be (t, h, w) with t = tokens per chunk, got {list(sizes)}")

    z = vae.arch.z_channels
    encoder = resolve_trunk(
        parts.encoder,
        f"{path}.encoder",
        {vae.vae_latents_write_key: Sym("latents_cf", source="vae")},
        fsq.latents_read_key,
        "head_out",
        {UNCOND_KEY: NullCondSpec},
    )
    enc_head = encoder.spec(encoder.head)
    if encoder.streams[encoder.head_stream].role is not Role.REGISTERS:
        _fail(f"{path}.encoder.module_dict.{encoder.head}", "the token head must read registers")
    if enc_head.dim_out != len(fsq.levels):
        _fail(
            f"{path}.encoder.module_dict.{encoder.head}",
            f"dim_out={enc_head.dim_out} but FSQ has {len(fsq.levels)} levels",
        )

    if pipe.latents_read_key != fsq.quants_write_key:
        _fail(f"{path}.pipeline", "latents_read_key must be the FSQ quants key")
    if pipe.reconst_write_key != vae.vae_latents_read_key:
        _fail(f"{path}.pipeline", "reconst_write_key must be the VAE's vae_latents_read_key")
    if pipe.out_channels != z:
        _fail(f"{path}.pipeline", f"out_channels={pipe.out_channels} but the VAE has {z}")
    if pipe.timesteps_read_key is None or pipe.noised_videos_read_key is None:
        _fail(f"{path}.pipeline", "timesteps_read_key and noised_videos_read_key are required")
    dec_inputs = {
        fsq.quants_write_key: Sym("quants", dim=len(fsq.levels)),
        pipe.timesteps_read_key: Sym("timesteps"),
        pipe.noised_videos_read_key: Sym("latents_cf", source="noise"),
    }
    decoder = resolve_trunk(
        parts.decoder,
        f"{path}.decoder",
        dec_inputs,
        pipe.reconst_write_key,
        "latents_cf",
        _decoder_inputs(parts.decoder, f"{path}.decoder"),
    )
    _check_sizes(encoder, decoder, sizes, z, path)
    _check_runnable(vae, encoder, decoder, sizes, overlap, path)

    return ModelConfig(
        vae=vae,
        encoder=encoder,
        decoder=decoder,
        fsq=fsq,
        pipeline=pipe,
        noise_module=parts.noise_module,
        chunk_size=chunk,
        overlap_size_frames=overlap,
        vae_video_sizes=sizes,
        video_preprocess_args=_preprocess_args(cfg.get("video_preprocess_args")),
        raw=raw,
    )


def _check_sizes(encoder: TrunkPlan, decoder: TrunkPlan, sizes, z: int, path: str):
    """Shapes that must agree between parts (checked here so errors name the config)."""
    t, h, w = sizes
    for trunk, part in ((encoder, "encoder"), (decoder, "decoder")):
        for stream in trunk.streams:
            first = trunk.spec(stream.ops[0])
            where = f"{path}.{part}.module_dict.{stream.ops[0]}"
            if stream.role is Role.PATCHES:
                if first.channels_in != z:
                    _fail(where, f"channels_in={first.channels_in} but the VAE has {z} channels")
                _, ph, pw = first.patch_sizes
                if h % ph or w % pw:
                    _fail(where, f"latent grid {h}x{w} is not divisible by patches {ph}x{pw}")
            if isinstance(first, RegistersSpec) and first.t_max < t:
                _fail(where, f"t_max={first.t_max} < {t} latent frames per chunk")
    head = decoder.spec(decoder.head)
    emb = decoder.spec(decoder.stream(Role.PATCHES).ops[0])
    if head.channels_out != z or tuple(head.patch_sizes) != tuple(emb.patch_sizes):
        where = f"{path}.decoder.module_dict.{decoder.head}"
        _fail(where, "channels_out / patch_sizes must match the VAE and the noise patch embedder")


def _check_runnable(vae, encoder: TrunkPlan, decoder: TrunkPlan, sizes, overlap: int, path: str):
    """Options upstream accepts when building but cannot run: refused here, by name."""
    arch = vae.arch
    if arch.norm_type == "groupnorm":
        widths = {arch.ch * m for m in arch.ch_mult}
        if any(w % 32 for w in widths):
            _fail(
                "vidtok_overrides", f"groupnorm (32 groups) needs widths divisible by 32: {widths}"
            )
    if arch.init_pad_mode == "reflect" and overlap > 0:
        msg = "reflect padding cannot pad the 1-frame clips that chunk overlap re-encodes"
        _fail("vidtok_overrides.init_pad_mode", msg)
    t, h, w = sizes
    for trunk, part in ((encoder, "encoder"), (decoder, "decoder")):
        for name, spec in trunk.modules:
            where = f"{path}.{part}.module_dict.{name}"
            if isinstance(spec, PackerSpec) and spec.repa_block_mask_write_key is not None:
                emb = trunk.spec(trunk.streams[spec.repa_patch_index].ops[0])
                patches = (h // emb.patch_sizes[1]) * (w // emb.patch_sizes[2])
                frames = [t] + (
                    [(overlap - 1) // arch.time_downsample_factor + 1]
                    if part == "encoder" and overlap
                    else []
                )
                for f in frames:
                    if (f * patches) % 128:
                        msg = f"the REPA mask over {f} x {patches} patch tokens is not a multiple"
                        _fail(where, msg + " of 128, which upstream's flex attention needs")
