"""Safe interpreter of the VideoFlexTok hub config (`config.json` or safetensors metadata).

The official loader hands this hydra tree to `hydra.utils.instantiate` after checking every
`_target_` against an allow-list of 25 classes. We never import or execute anything named in a
config: each allowed `_target_` string maps to a builder that reads that class's hyperparameters
(with the official defaults) into a frozen dataclass. Unknown targets, unknown keys, training-only
features we cannot honour at inference, and data-flow wiring we do not understand all raise
`UnsupportedConfigError` with the config path of the offending node.

The encoder and decoder are `SequentialModuleDictWrapper`s: modules run in file order and talk
through string keys of a shared dict. `resolve_trunk` follows those keys once, symbolically, and
turns them into a `TrunkPlan` (which module creates / transforms which token stream, how streams
are packed, which head reads what). Nothing downstream of this file sees a string data key.
"""

import json
import math
from dataclasses import MISSING, fields, replace
from typing import Any

from .specs import (
    FSQSpec,
    LinearHeadSpec,
    LinearLayerSpec,
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
    RegistersSpec,
    TimeEmbedderSpec,
    TransformerHeadSpec,
    TransformerSpec,
    UnpackerSpec,
    UnsupportedConfigError,
    VidTokVAESpec,
)
from .specs import fail as _fail
from .vidtok import VidTokSpec
from .wiring import Sym, resolve_trunk

# ----------------------------------------------------------------------------------------------
# The allow-list (the official loader's ALLOWED_TARGETS, 25 strings)
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

ALLOWED_TARGETS = (
    T_WRAPPER,
    T_PIPELINE,
    T_PREFIX_NOISE,
    T_MINRF_NOISE,
    T_RESAMPLER,
    T_VIDTOK,
    T_SEQUENTIAL,
    T_POSEMB,
    T_PER_SAMPLE_OP,
    T_CF_TO_CL,
    T_CL_TO_CF,
    T_TRANSFORMER,
    T_NESTED,
    T_PREFIX,
    T_TIME,
    T_REGISTERS,
    T_PATCH,
    T_NULLCOND,
    T_LINEAR,
    T_PACKER,
    T_UNPACKER,
    T_LINEAR_HEAD,
    T_TRANSFORMER_HEAD,
    T_PATCHES_HEAD,
    T_FSQ,
)

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
REQUIRED = object()  # marks a hyperparameter without default

# ----------------------------------------------------------------------------------------------
# Reading nodes
# ----------------------------------------------------------------------------------------------


def _check_values(value: Any, path: str):
    """Reject hydra interpolations and nested targets in plain-value positions."""
    if isinstance(value, str) and "${" in value:
        _fail(path, f"interpolations are not supported (found {value!r})")
    if isinstance(value, dict):
        if "_target_" in value:
            _fail(path, f"unexpected nested object {value['_target_']!r}")
        for k, v in value.items():
            _check_values(v, f"{path}.{k}")
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_values(v, f"{path}[{i}]")


def _read(node: Any, path: str, spec_cls, *, skip=(), ignore=()) -> dict:
    """Check `node` (a dict with `_target_`) against the hyperparameters of `spec_cls` (its fields
    minus `skip`) and return them with the official defaults filled in. Node keys in `ignore` are
    left to the caller."""
    params = {}
    for f in fields(spec_cls):
        if f.name in skip:
            continue
        if f.default is not MISSING:
            params[f.name] = f.default
        elif f.default_factory is not MISSING:
            params[f.name] = f.default_factory()
        else:
            params[f.name] = REQUIRED
    out = {}
    for key, value in node.items():
        if key == "_target_" or key in ignore:
            continue
        if key == "_partial_":
            _fail(path, "`_partial_` is not expected here")
        if key not in params:
            _fail(path, f"unknown hyperparameter {key!r} for {node['_target_']}")
        _check_values(value, f"{path}.{key}")
        out[key] = value
    for key, default in params.items():
        if key not in out:
            if default is REQUIRED:
                _fail(path, f"missing required hyperparameter {key!r}")
            out[key] = default
    return out


def _expect(node: Any, path: str, *targets: str) -> str:
    if not isinstance(node, dict) or "_target_" not in node:
        _fail(path, f"expected an object with `_target_` (one of {', '.join(targets)})")
    target = node["_target_"]
    if not isinstance(target, str) or target not in ALLOWED_TARGETS:
        _fail(path, f"target {target!r} is not in the allow-list of the official loader")
    if target not in targets:
        _fail(path, f"{target} is allowed but not supported here (expected {', '.join(targets)})")
    return target


def _choice(path: str, name: str, value: Any, allowed) -> None:
    if value not in allowed:
        _fail(path, f"{name}={value!r} is not supported (expected one of {list(allowed)})")


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


def _build(spec_cls, kwargs: dict):
    return spec_cls(**{k: _tuple(v) for k, v in kwargs.items()})


# ----------------------------------------------------------------------------------------------
# Builders (one per allowed class)
# ----------------------------------------------------------------------------------------------

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


def build_module(node: Any, path: str) -> ModuleSpec:
    """One module of an encoder/decoder module_dict -> its spec."""
    target = _expect(
        node,
        path,
        T_PER_SAMPLE_OP,
        T_PATCH,
        T_POSEMB,
        T_REGISTERS,
        T_PACKER,
        T_TRANSFORMER,
        T_UNPACKER,
        T_LINEAR_HEAD,
        T_PATCHES_HEAD,
        T_TRANSFORMER_HEAD,
        T_LINEAR,
        T_NESTED,
        T_PREFIX,
        T_NULLCOND,
        T_TIME,
    )
    if target == T_PER_SAMPLE_OP:
        kw = _read(node, path, PerSampleOpSpec, skip=("op",), ignore=("per_sample_op",))
        op = node.get("per_sample_op")
        op_target = _expect(op, f"{path}.per_sample_op", T_CF_TO_CL, T_CL_TO_CF)
        if op.get("_partial_") is not True or set(op) != {"_target_", "_partial_"}:
            _fail(f"{path}.per_sample_op", "expected exactly {_target_, _partial_: true}")
        kw["op"] = op_target.rsplit(".", 1)[1]
        return _build(PerSampleOpSpec, kw)
    if target == T_PATCH:
        kw = _read(node, path, PatchEmbedderSpec)
        _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS_ZERO)
        return _build(PatchEmbedderSpec, kw)
    if target == T_POSEMB:
        kw = _read(node, path, PosEmbSpec)
        _choice(
            path, "posemb_type", kw["posemb_type"], ("learnable_sum", "learnable_prod", "sincos")
        )
        _choice(path, "posemb_scaling", kw["posemb_scaling"], ("absolute", "interpolate"))
        n = len(kw["max_sizes"])
        if kw["posemb_type"] == "sincos" and n != 2:
            _fail(path, "sincos positional embeddings are 2-D only (upstream asserts this)")
        if kw["posemb_type"] != "sincos" and len(set(kw["max_sizes"])) != 1:
            _fail(path, f"learnable posembs need equal max_sizes, got {kw['max_sizes']}")
        return _build(PosEmbSpec, kw)
    if target == T_REGISTERS:
        kw = _read(node, path, RegistersSpec)
        mode = kw["size_sampling_mode"]
        if not (mode in ("uniform", "powers_of_two") or str(mode).startswith("k=")):
            _fail(path, f"size_sampling_mode={mode!r} is not supported")
        if kw["n_min"] > kw["n_max"]:
            _fail(path, f"n_min={kw['n_min']} must be <= n_max={kw['n_max']}")
        _choice(path, "ordering_mode", kw["ordering_mode"], ("nested",))
        if kw["extra_registers_write_key"] is not None and kw["extra_registers_dim"] is None:
            _fail(path, "extra_registers_write_key needs extra_registers_dim")
        return _build(RegistersSpec, kw)
    if target == T_PACKER:
        kw = _read(node, path, PackerSpec)
        _choice(path, "mask_mode", kw["mask_mode"], MASK_MODES)
        if kw["max_seq_len"] is not None and kw["pad_to_multiple"] is not None:
            _fail(path, "only one of max_seq_len and pad_to_multiple may be set")
        cfg = kw["cross_timestep_attention_config"]
        if kw["mask_mode"] == "flexible_time_block_causal_last":
            keys = ("prefix2prefix", "prefix2nonprefix", "nonprefix2prefix", "nonprefix2nonprefix")
            if not isinstance(cfg, dict) or set(cfg) != set(keys):
                _fail(path, f"cross_timestep_attention_config must have exactly the keys {keys}")
            for k in keys[:3]:
                _choice(path, k, cfg[k], ("full", "none"))
            _choice(path, keys[3], cfg[keys[3]], ("full", "none", "causal"))
            kw["cross_timestep_attention_config"] = tuple((k, cfg[k]) for k in keys)
        else:
            kw["cross_timestep_attention_config"] = None
        _choice(path, "repa_mask_mode", kw["repa_mask_mode"], ("full", "time_block_causal"))
        return _build(PackerSpec, kw)
    if target == T_TRANSFORMER:
        _layer_args(node, path, allow_null_norm=False)
        kw = _read(node, path, TransformerSpec)
        _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS)
        for key in ("score_mod_read_key", "rope_forward_read_key"):
            if kw[key] is not None:
                _fail(path, f"{key} is read but nothing in a released pipeline writes it")
        kw["intermediate_layers"] = kw["intermediate_layers"] or ()
        return _build(TransformerSpec, kw)
    if target == T_UNPACKER:
        return _build(UnpackerSpec, _read(node, path, UnpackerSpec))
    if target in (T_LINEAR_HEAD, T_PATCHES_HEAD):
        has_norm = _layer_args(node, path, allow_null_norm=True)
        if target == T_LINEAR_HEAD:
            skip = ("norm", "channels_out", "patch_sizes")
            kw = _read(node, path, LinearHeadSpec, skip=skip, ignore=_PARAM_LAYERS)
        else:
            skip = ("norm", "dim_out")
            kw = _read(node, path, LinearHeadSpec, skip=skip, ignore=_PARAM_LAYERS)
            if kw.get("channels_out") is None or kw.get("patch_sizes") is None:
                _fail(path, "missing required hyperparameter 'channels_out' or 'patch_sizes'")
            kw["dim_out"] = kw["channels_out"] * math.prod(kw["patch_sizes"])
        kw["norm"] = has_norm
        _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS_ZERO)
        _choice(path, "dtype_override", kw["dtype_override"], DTYPES)
        if kw["use_mup_readout"]:
            _fail(path, "use_mup_readout=True needs muP base shapes and cannot run at inference")
        return _build(LinearHeadSpec, kw)
    if target == T_TRANSFORMER_HEAD:
        _layer_args(node, path, allow_null_norm=False)
        kw = _read(node, path, TransformerHeadSpec)
        _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS)
        _choice(path, "dtype_override", kw["dtype_override"], DTYPES)
        if kw["use_mup_readout"]:
            _fail(path, "use_mup_readout=True needs muP base shapes and cannot run at inference")
        return _build(TransformerHeadSpec, kw)
    if target == T_LINEAR:
        kw = _read(node, path, LinearLayerSpec)
        _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS_ZERO)
        _choice(path, "dtype_override", kw["dtype_override"], DTYPES)
        return _build(LinearLayerSpec, kw)
    if target == T_NESTED:
        return _build(NestedDropoutSpec, _read(node, path, NestedDropoutSpec))
    if target == T_PREFIX:
        return _build(PrefixDropoutSpec, _read(node, path, PrefixDropoutSpec))
    if target == T_NULLCOND:
        kw = _read(node, path, NullCondSpec)
        if kw["replace_with_single_token"]:
            _fail(path, "replace_with_single_token=True breaks the time-interleaved packing")
        return _build(NullCondSpec, kw)
    if target == T_TIME:
        kw = _read(node, path, TimeEmbedderSpec)
        _choice(path, "weight_init_style", kw["weight_init_style"], WEIGHT_INITS)
        if kw["temb_as_tokens"]:
            _fail(path, "temb_as_tokens=True cannot be packed with time-interleaved streams")
        return _build(TimeEmbedderSpec, kw)
    raise AssertionError(target)  # pragma: no cover


def build_fsq(node: Any, path: str) -> FSQSpec:
    _expect(node, path, T_FSQ)
    kw = _read(node, path, FSQSpec)
    levels = kw["levels"]
    if (
        not isinstance(levels, list)
        or not levels
        or any(not isinstance(L, int) or L < 2 for L in levels)
    ):
        _fail(path, f"levels must be a list of integers >= 2, got {levels!r}")
    return _build(FSQSpec, kw)


def build_vae(node: Any, path: str, overrides: dict | None) -> VidTokVAESpec:
    _expect(node, path, T_VIDTOK)
    kw = _read(node, path, VidTokVAESpec, skip=("arch",))
    if kw["tokenizer_id"] not in VIDTOK_IDS:
        _fail(path, f"tokenizer_id={kw['tokenizer_id']!r} is not one of {list(VIDTOK_IDS)}")
    if kw["chunk_size"] is not None:
        _fail(path, "VidTokVAE.chunk_size must be null (internal VAE chunking is not supported)")
    arch = VIDTOK_IDS[kw["tokenizer_id"]]
    if overrides:
        if not isinstance(overrides, dict):
            _fail("vidtok_overrides", "must be an object")
        for key, value in overrides.items():
            if key not in VIDTOK_OVERRIDABLE:
                _fail(f"vidtok_overrides.{key}", f"not overridable (allowed: {VIDTOK_OVERRIDABLE})")
            arch = replace(arch, **{key: _tuple(value)})
        if len(arch.ch_mult) != 4:
            _fail("vidtok_overrides.ch_mult", "VidTok 4x8x8 needs exactly 4 levels")
        _choice("vidtok_overrides", "norm_type", arch.norm_type, ("layernorm", "groupnorm"))
        _choice(
            "vidtok_overrides",
            "init_pad_mode",
            arch.init_pad_mode,
            ("replicate", "constant", "reflect"),
        )
    kw["arch"] = arch
    return _build(VidTokVAESpec, kw)


def build_pipeline(node: Any, path: str) -> PipelineSpec:
    _expect(node, path, T_PIPELINE)
    if node.get("_partial_") is not True:
        _fail(path, "the pipeline must be a `_partial_: true` object (it receives the decoder)")
    kw = _read(node, path, PipelineSpec, ignore=("_partial_",))
    if kw["noise_read_key"] is not None or kw["target_sizes_read_key"] is not None:
        _fail(path, "noise_read_key / target_sizes_read_key are not supported (never set at eval)")
    return _build(PipelineSpec, kw)


_NOISE_PARAMS = {
    T_MINRF_NOISE: dict(
        clean_images_read_key=REQUIRED,
        noised_images_write_key=REQUIRED,
        timesteps_write_key=REQUIRED,
        sigmas_write_key=REQUIRED,
        ln=True,
        stratisfied=False,
        mode_scale=0.0,
        noise_write_key="flow_noise",
        noise_read_key=None,
    ),
    T_PREFIX_NOISE: dict(
        clean_images_read_key=REQUIRED,
        noised_images_write_key=REQUIRED,
        timesteps_write_key=REQUIRED,
        sigmas_write_key=REQUIRED,
        prefix_len=None,
        keep_prefix_prob=None,
        ln=True,
        stratisfied=False,
        mode_scale=0.0,
        noise_write_key="flow_noise",
        noise_read_key=None,
        loss_mask_write_key="loss_mask",
        prefix_len_write_key="prefix_len",
        cond_sigma_range=(0.0, 0.02),
        cond_noise_prob=0.5,
    ),
}


def build_noise_module(node: Any, path: str) -> NoiseModuleSpec | None:
    if node is None:
        return None
    target = _expect(node, path, T_MINRF_NOISE, T_PREFIX_NOISE)
    schema = _NOISE_PARAMS[target]
    params = {}
    for key, value in node.items():
        if key == "_target_":
            continue
        if key not in schema:
            _fail(path, f"unknown hyperparameter {key!r} for {target}")
        _check_values(value, f"{path}.{key}")
        params[key] = _tuple(value)
    for key, default in schema.items():
        if key not in params:
            if default is REQUIRED:
                _fail(path, f"missing required hyperparameter {key!r}")
            params[key] = default
    return NoiseModuleSpec(target, tuple(params.items()))


# ----------------------------------------------------------------------------------------------
# Top level
# ----------------------------------------------------------------------------------------------


def _module_dict(node: Any, path: str) -> list[tuple[str, ModuleSpec]]:
    _expect(node, path, T_SEQUENTIAL)
    if set(node) != {"_target_", "module_dict"} or not isinstance(node["module_dict"], dict):
        _fail(path, "expected exactly {_target_, module_dict: {...}}")
    return [
        (name, build_module(sub, f"{path}.module_dict.{name}"))
        for name, sub in node["module_dict"].items()  # file order = execution order
    ]


def parse_config(config: dict | str) -> ModelConfig:
    """Interpret a hub config (dict or JSON text) into a `ModelConfig`. Raises
    `UnsupportedConfigError` naming the offending path for anything we cannot run faithfully."""
    raw = config if isinstance(config, str) else json.dumps(config)
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as e:
        raise UnsupportedConfigError(f"config is not valid JSON: {e}") from None
    if not isinstance(cfg, dict) or "video_flex_tok" not in cfg:
        raise UnsupportedConfigError("config has no `video_flex_tok` entry")
    # Other top-level keys are ignored, as upstream does.
    root = cfg["video_flex_tok"]
    path = "video_flex_tok"
    _expect(root, path, T_RESAMPLER, T_WRAPPER)
    allowed = {
        "_target_",
        "vae",
        "encoder",
        "decoder",
        "regularizer",
        "flow_matching_noise_module",
        "pipeline",
    }
    for key in root:
        if key not in allowed:
            _fail(path, f"unknown hyperparameter {key!r}")
    for key in ("vae", "encoder", "decoder", "regularizer", "pipeline"):
        if root.get(key) is None:
            _fail(path, f"missing required part {key!r}")

    vae = build_vae(root["vae"], f"{path}.vae", cfg.get("vidtok_overrides"))
    fsq = build_fsq(root["regularizer"], f"{path}.regularizer")
    pipe = build_pipeline(root["pipeline"], f"{path}.pipeline")
    noise = build_noise_module(
        root.get("flow_matching_noise_module"), f"{path}.flow_matching_noise_module"
    )

    chunk = cfg.get("chunk_size", 17)
    overlap = cfg.get("overlap_size_frames", 1)
    sizes = tuple(cfg.get("vae_video_sizes", (5, 32, 32)))
    tdf = vae.arch.time_downsample_factor
    if not (isinstance(chunk, int) and chunk >= 1 and (chunk - 1) % tdf == 0):
        _fail("chunk_size", f"must be 1 + {tdf}k frames, got {chunk!r}")
    if not (isinstance(overlap, int) and 0 <= overlap < chunk):
        _fail("overlap_size_frames", f"must be in [0, chunk_size), got {overlap!r}")
    if overlap > 0 and (overlap - 1) % tdf != 0:
        _fail("overlap_size_frames", f"must be 0 or 1 + {tdf}k, got {overlap}")
    if len(sizes) != 3 or sizes[0] != (chunk - 1) // tdf + 1:
        _fail("vae_video_sizes", f"must be (t, h, w) with t = tokens per chunk, got {sizes}")

    enc_mods = _module_dict(root["encoder"], f"{path}.encoder")
    dec_mods = _module_dict(root["decoder"], f"{path}.decoder")
    z = vae.arch.z_channels
    encoder = resolve_trunk(
        enc_mods,
        f"{path}.encoder",
        {vae.vae_latents_write_key: Sym("latents_cf", source="vae")},
        fsq.latents_read_key,
        "head_out",
    )
    enc_head = encoder.spec(encoder.head)
    if encoder.streams[encoder.head_stream][0] != "registers":
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
        dec_mods, f"{path}.decoder", dec_inputs, pipe.reconst_write_key, "latents_cf"
    )
    names = dict(dec_mods)
    if "dec_nested_dropout" in names and not isinstance(
        names["dec_nested_dropout"], NestedDropoutSpec
    ):
        _fail(f"{path}.decoder", "'dec_nested_dropout' must be a MaskedNestedDropout")
    if "dec_prefix_masking" in names and not isinstance(
        names["dec_prefix_masking"], PrefixDropoutSpec
    ):
        _fail(f"{path}.decoder", "'dec_prefix_masking' must be a MaskedPrefixDropout")
    _check_sizes(encoder, decoder, fsq, sizes, z, f"{path}")
    _check_runnable(vae, encoder, decoder, sizes, overlap, path)

    return ModelConfig(
        vae=vae,
        encoder=encoder,
        decoder=decoder,
        fsq=fsq,
        pipeline=pipe,
        noise_module=noise,
        chunk_size=chunk,
        overlap_size_frames=overlap,
        vae_video_sizes=sizes,
        video_preprocess_args=tuple((cfg.get("video_preprocess_args") or {}).items()),
        raw=raw,
    )


def _check_sizes(encoder, decoder, fsq, sizes, z, path):
    """Shapes that must agree between parts (checked here so errors name the config)."""
    t, h, w = sizes
    for trunk, part in ((encoder, "encoder"), (decoder, "decoder")):
        for role, ops in trunk.streams:
            first = trunk.spec(ops[0])
            where = f"{path}.{part}.module_dict.{ops[0]}"
            if role == "patches":
                if first.channels_in != z:
                    _fail(where, f"channels_in={first.channels_in} but the VAE has {z} channels")
                _, ph, pw = first.patch_sizes
                if h % ph or w % pw:
                    _fail(where, f"latent grid {h}x{w} is not divisible by patches {ph}x{pw}")
            if isinstance(first, RegistersSpec) and first.t_max < t:
                _fail(where, f"t_max={first.t_max} < {t} latent frames per chunk")
    head = decoder.spec(decoder.head)
    emb = decoder.spec(dict(decoder.streams)["patches"][0])
    if head.channels_out != z or tuple(head.patch_sizes) != tuple(emb.patch_sizes):
        where = f"{path}.decoder.module_dict.{decoder.head}"
        _fail(where, "channels_out / patch_sizes must match the VAE and the noise patch embedder")
    del fsq


def _check_runnable(vae, encoder, decoder, sizes, overlap, path):
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
            if isinstance(spec, TimeEmbedderSpec) and spec.max_timestep < 1.0:
                _fail(where, f"max_timestep={spec.max_timestep} < 1: the sampler starts at tau = 1")
            if isinstance(spec, PackerSpec) and spec.repa_block_mask_write_key is not None:
                _, ops = trunk.streams[spec.repa_patch_index]
                emb = trunk.spec(ops[0])
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


def load_config_file(path) -> ModelConfig:
    with open(path, encoding="utf-8") as f:
        return parse_config(f.read())
