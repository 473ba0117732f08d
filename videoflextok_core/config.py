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
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from .vidtok import VidTokSpec


class UnsupportedConfigError(ValueError):
    """A config that is malformed, not allowed, or wired in a way this port does not run."""


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
    T_WRAPPER, T_PIPELINE, T_PREFIX_NOISE, T_MINRF_NOISE, T_RESAMPLER, T_VIDTOK, T_SEQUENTIAL,
    T_POSEMB, T_PER_SAMPLE_OP, T_CF_TO_CL, T_CL_TO_CF, T_TRANSFORMER, T_NESTED, T_PREFIX, T_TIME,
    T_REGISTERS, T_PATCH, T_NULLCOND, T_LINEAR, T_PACKER, T_UNPACKER, T_LINEAR_HEAD,
    T_TRANSFORMER_HEAD, T_PATCHES_HEAD, T_FSQ,
)  # fmt: skip

VIDTOK_IDS = {"vidtok_kl_causal_488_16chn": VidTokSpec()}  # the packaged VidTok architectures
VIDTOK_OVERRIDABLE = ("ch", "ch_mult", "num_res_blocks", "z_channels", "norm_type", "init_pad_mode")
WEIGHT_INITS = ("xavier", "trunc_normal")
WEIGHT_INITS_ZERO = ("zero", "xavier", "trunc_normal")
DTYPES = (None, "float16", "fp16", "bfloat16", "bf16", "float32", "fp32")
MASK_MODES = (
    "full", "causal", "time_block_causal", "time_block_causal_last",
    "flexible_time_block_causal_last",
)  # fmt: skip
REQUIRED = object()  # marks a hyperparameter without default

# ----------------------------------------------------------------------------------------------
# Specs: one frozen dataclass per allowed class (inference-relevant fields + the rest as-is)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerSampleOpSpec:
    read_key: str
    write_key: str
    op: str  # "channels_first_to_last" | "channels_last_to_first"


@dataclass(frozen=True)
class PatchEmbedderSpec:
    input_tensor_list_read_key: str
    patches_list_write_key: str
    n_patches_write_key: str
    patch_sizes: tuple[int, ...]
    channels_in: int
    dim: int | None = None
    flatten_patches: bool = True
    weight_init_style: str = "xavier"


@dataclass(frozen=True)
class PosEmbSpec:
    read_key: str
    write_key: str
    dim: int
    max_sizes: tuple[int, ...]
    posemb_type: str = "sincos"
    posemb_scaling: str = "absolute"
    posemb_write_key: str | None = None


@dataclass(frozen=True)
class RegistersSpec:
    input_tensor_list_read_key: str
    register_sizes_read_write_key: str
    registers_write_key: str
    dim: int
    t_max: int
    n_min: int
    n_max: int
    n_eval: int | None = None
    size_sampling_mode: str = "uniform"
    ordering_mode: str = "nested"
    extra_registers_write_key: str | None = None
    extra_registers_dim: int | None = None

    @property
    def n_tokens(self) -> int:
        """Registers per latent frame at inference (upstream: `n_eval or n_max`)."""
        return self.n_eval or self.n_max


@dataclass(frozen=True)
class PackerSpec:
    input_list_read_keys: tuple[str, ...]
    packed_seq_write_key: str
    block_mask_write_key: str
    inner_packed_shapes_write_key: str
    outer_packed_shapes_write_key: str
    mask_mode: str = "full"
    max_seq_len: int | None = None
    pad_to_multiple: int | None = None
    emb_packing_fn_write_key: str | None = None
    per_subseq_embs: bool = False
    compile_block_mask: bool = True
    cross_timestep_attention_config: tuple[tuple[str, str], ...] | None = None
    repa_block_mask_write_key: str | None = None
    repa_mask_mode: str = "time_block_causal"
    repa_patch_index: int = 0


@dataclass(frozen=True)
class TransformerSpec:
    input_seq_read_key: str
    output_seq_write_key: str
    dim: int = 768
    depth: int = 12
    head_dim: int = 64
    mlp_ratio: float = 4.0
    qkv_bias: bool = False
    proj_bias: bool = False
    mlp_bias: bool = False
    drop: float = 0.0
    drop_path_rate: float = 0.0
    gated_mlp: bool = True
    qk_norm: bool = True
    use_act_checkpoint: bool = False
    weight_init_style: str = "xavier"
    zero_init_query_proj: bool = False
    block_mask_read_key: str | None = None
    score_mod_read_key: str | None = None
    adaLN_emb_read_key: str | None = None
    adaLN_packing_fn_read_key: str | None = None
    adaLN_expansion: int = 1
    rope_forward_read_key: str | None = None
    intermediate_layer_write_key: str | None = None
    intermediate_layers: tuple[int, ...] = ()


@dataclass(frozen=True)
class UnpackerSpec:
    packed_seq_read_key: str
    inner_seq_write_keys: tuple[str, ...]
    inner_packed_shapes_read_key: str
    outer_packed_shapes_read_key: str


@dataclass(frozen=True)
class LinearHeadSpec:
    read_key: str
    write_key: str
    dim: int
    dim_out: int  # for ToPatchesLinearHead: channels_out * prod(patch_sizes)
    use_mup_readout: bool
    weight_init_style: str = "zero"
    norm: bool = True  # False when the config sets `norm_layer: null`
    dtype_override: str | None = None
    adaLN_emb_read_key: str | None = None
    adaLN_packing_fn_read_key: str | None = None
    adaLN_bias: bool = True
    proj_bias: bool = True
    channels_out: int | None = None  # ToPatchesLinearHead only
    patch_sizes: tuple[int, ...] | None = None  # ToPatchesLinearHead only


@dataclass(frozen=True)
class TransformerHeadSpec:
    read_key: str
    write_key: str
    dim: int
    dim_out: int
    depth: int
    head_dim: int = 64
    use_mup_readout: bool = False
    mlp_ratio: float = 4.0
    qkv_bias: bool = False
    proj_bias: bool = False
    mlp_bias: bool = False
    drop: float = 0.0
    drop_path_rate: float = 0.0
    weight_init_style: str = "xavier"
    dtype_override: str | None = None
    block_mask_read_key: str | None = None


@dataclass(frozen=True)
class LinearLayerSpec:
    read_key: str
    write_key: str
    dim_in: int
    dim: int
    weight_init_style: str = "xavier"
    dtype_override: str | None = None
    proj_bias: bool = True


@dataclass(frozen=True)
class NestedDropoutSpec:
    read_write_key: str
    dim: int
    eval_keep_k_read_key: str | None = "eval_keep_k"
    train_keep_k_write_key: str | None = "train_keep_k"
    size_sampling_mode: str = "uniform"
    zipf_a: float = 0.5


@dataclass(frozen=True)
class PrefixDropoutSpec:
    read_write_key: str
    dim: int
    prefix_len_read_key: str = "prefix_len"
    eval_prefix_len_read_key: str | None = "eval_prefix_len"


@dataclass(frozen=True)
class NullCondSpec:
    read_write_key: str
    dim: int
    eval_drop_flag_read_key: str | None = "eval_dropout_mask"
    dropout_prob: float = 0.0
    replace_with_single_token: bool = False


@dataclass(frozen=True)
class TimeEmbedderSpec:
    timesteps_read_key: str
    time_embedding_write_key: str
    dim: int
    frequency_embedding_size: int = 256
    weight_init_style: str = "xavier"
    max_timestep: float = 1000.0
    temb_as_tokens: bool = False


@dataclass(frozen=True)
class FSQSpec:
    latents_read_key: str
    quants_write_key: str
    tokens_write_key: str
    levels: tuple[int, ...]
    drop_quant_p: float = 0.0
    corrupt_tokens_p: float = 0.0
    min_corrupt_tokens_p: float | None = None
    apply_corrupt_tokens_p: float = 0.2
    packed_call: bool = False


@dataclass(frozen=True)
class VidTokVAESpec:
    images_read_key: str
    vae_latents_read_key: str
    vae_latents_write_key: str
    images_reconst_write_key: str
    tokenizer_id: str
    compile: bool = False
    chunk_size: int | None = None
    force_vae_encode: bool = True
    arch: VidTokSpec = field(default_factory=VidTokSpec)


@dataclass(frozen=True)
class PipelineSpec:
    noise_read_key: str | None = None
    target_sizes_read_key: str | None = None
    latents_read_key: str | None = None
    timesteps_read_key: str | None = None
    noised_videos_read_key: str | None = None
    reconst_write_key: str | None = None
    out_channels: int | None = None
    zero_noise: bool = False  # start from zeros instead of noise (a 1-step "MSE decoder")
    cond_vae_latents_key: str | None = None


@dataclass(frozen=True)
class NoiseModuleSpec:
    """Training-time noising (PrefixMinRFNoiseModule or MinRFNoiseModule); unused at inference."""

    target: str
    params: tuple[tuple[str, Any], ...]


ModuleSpec = (
    PerSampleOpSpec | PatchEmbedderSpec | PosEmbSpec | RegistersSpec | PackerSpec
    | TransformerSpec | UnpackerSpec | LinearHeadSpec | TransformerHeadSpec | LinearLayerSpec
    | NestedDropoutSpec | PrefixDropoutSpec | NullCondSpec | TimeEmbedderSpec
)  # fmt: skip


@dataclass(frozen=True)
class TrunkPlan:
    """How one SequentialModuleDictWrapper runs, resolved from its read/write keys.

    streams: per packed sub-sequence, in packing order, `(role, ops)`: role "patches" (from VAE
        latents, (t, h', w') grid) or "registers" ((t, N) grid); ops are module names in
        execution order, the first one creating the stream.
    """

    modules: tuple[tuple[str, ModuleSpec], ...]  # all modules, file order
    streams: tuple[tuple[str, tuple[str, ...]], ...]
    packer: str
    transformer: str
    time_embedder: str | None
    head: str  # reads the unpacked output of stream `head_stream`
    head_stream: int
    repa_head: str | None = None  # TransformerHead on an intermediate layer (training aux.)
    repa_layer: int | None = None
    repa_stream: int | None = None

    def spec(self, name: str) -> ModuleSpec:
        return dict(self.modules)[name]


@dataclass(frozen=True)
class ModelConfig:
    """Everything the port needs, interpreted from a hub config."""

    vae: VidTokVAESpec
    encoder: TrunkPlan
    decoder: TrunkPlan
    fsq: FSQSpec
    pipeline: PipelineSpec
    noise_module: NoiseModuleSpec | None
    chunk_size: int = 17
    overlap_size_frames: int = 1
    vae_video_sizes: tuple[int, int, int] = (5, 32, 32)
    video_preprocess_args: tuple[tuple[str, Any], ...] = ()
    raw: str = "{}"  # the config as JSON text (file order kept), for saving

    @property
    def raw_dict(self) -> dict:
        return json.loads(self.raw)

    @property
    def nested_dropout(self) -> NestedDropoutSpec:
        return self.decoder.spec("dec_nested_dropout")

    @property
    def prefix_masking(self) -> PrefixDropoutSpec | None:
        return dict(self.decoder.modules).get("dec_prefix_masking")

    @property
    def n_registers(self) -> int:
        """Tokens per latent frame."""
        for role, ops in self.encoder.streams:
            if role == "registers":
                return self.encoder.spec(ops[0]).n_tokens
        raise AssertionError("encoder plan without registers")

    @property
    def tokens_per_chunk(self) -> int:
        return (self.chunk_size - 1) // self.vae.arch.time_downsample_factor + 1

    @property
    def overlap_tokens(self) -> int:
        if self.overlap_size_frames == 0:
            return 0
        return (self.overlap_size_frames - 1) // self.vae.arch.time_downsample_factor + 1

    @property
    def resolution(self) -> tuple[int, int]:
        s = self.vae.arch.spatial_downsample_factor
        return self.vae_video_sizes[1] * s, self.vae_video_sizes[2] * s

    @property
    def codebook_size(self) -> int:
        return math.prod(self.fsq.levels)


# ----------------------------------------------------------------------------------------------
# Reading nodes
# ----------------------------------------------------------------------------------------------


def _fail(path: str, msg: str):
    raise UnsupportedConfigError(f"{path}: {msg}")


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
        node, path, T_PER_SAMPLE_OP, T_PATCH, T_POSEMB, T_REGISTERS, T_PACKER, T_TRANSFORMER,
        T_UNPACKER, T_LINEAR_HEAD, T_PATCHES_HEAD, T_TRANSFORMER_HEAD, T_LINEAR, T_NESTED,
        T_PREFIX, T_NULLCOND, T_TIME,
    )  # fmt: skip
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
            "vidtok_overrides", "init_pad_mode", arch.init_pad_mode,
            ("replicate", "constant", "reflect"),
        )  # fmt: skip
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
        clean_images_read_key=REQUIRED, noised_images_write_key=REQUIRED,
        timesteps_write_key=REQUIRED, sigmas_write_key=REQUIRED, ln=True, stratisfied=False,
        mode_scale=0.0, noise_write_key="flow_noise", noise_read_key=None,
    ),
    T_PREFIX_NOISE: dict(
        clean_images_read_key=REQUIRED, noised_images_write_key=REQUIRED,
        timesteps_write_key=REQUIRED, sigmas_write_key=REQUIRED, prefix_len=None,
        keep_prefix_prob=None, ln=True, stratisfied=False, mode_scale=0.0,
        noise_write_key="flow_noise", noise_read_key=None, loss_mask_write_key="loss_mask",
        prefix_len_write_key="prefix_len", cond_sigma_range=(0.0, 0.02), cond_noise_prob=0.5,
    ),
}  # fmt: skip


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
# Wiring: follow the data keys of a module_dict symbolically
# ----------------------------------------------------------------------------------------------


class _Sym:
    """What a data key holds while we trace a module_dict."""

    def __init__(self, kind: str, **info):
        self.kind = kind  # latents | quants | timesteps | temb | stream | packed | mask | ...
        self.info = info


def _get(env: dict, key: str, path: str, *kinds: str) -> _Sym:
    sym = env.get(key)
    if sym is None:
        _fail(path, f"reads {key!r}, which nothing before it provides")
    if kinds and sym.kind not in kinds:
        _fail(path, f"reads {key!r} holding {sym.kind}; expected {' or '.join(kinds)}")
    return sym


def resolve_trunk(
    modules: list[tuple[str, ModuleSpec]],
    path: str,
    inputs: dict[str, _Sym],
    output_key: str,
    output_kind: str,
) -> TrunkPlan:
    """Trace a module_dict in file order and return its plan.

    inputs: data keys available before the first module (e.g. VAE latents channels-first).
    output_key / output_kind: what the trunk must produce ("head_out" registers for the encoder,
    channels-first velocity "latents_cf" for the decoder).
    """
    env = dict(inputs)
    packers, transformers, time_embedders, heads, repa = [], [], [], [], []
    for name, spec in modules:
        where = f"{path}.module_dict.{name}"
        if isinstance(spec, PerSampleOpSpec):
            src = _get(env, spec.read_key, where, "latents_cf", "latents_cl", "head_out")
            if spec.op == "channels_first_to_last" and src.kind == "latents_cf":
                env[spec.write_key] = _Sym("latents_cl", source=src.info["source"])
            elif spec.op == "channels_last_to_first" and src.kind == "head_out":
                if src.info["role"] != "patches_out":
                    _fail(where, "channels_last_to_first expects the output of a patches head")
                env[spec.write_key] = _Sym("latents_cf", source="velocity")
            elif spec.op == "channels_last_to_first" and src.kind == "latents_cl":
                env[spec.write_key] = _Sym("latents_cf", source=src.info["source"])
            else:
                _fail(where, f"{spec.op} applied to {src.kind} is not understood")
        elif isinstance(spec, PatchEmbedderSpec):
            src = _get(env, spec.input_tensor_list_read_key, where, "latents_cl")
            if spec.flatten_patches:
                _fail(where, "flatten_patches=True cannot be interleaved per latent frame")
            if len(spec.patch_sizes) != 3 or spec.patch_sizes[0] != 1:
                _fail(where, f"patch_sizes must be [1, ph, pw], got {list(spec.patch_sizes)}")
            dim = (
                spec.dim if spec.dim is not None else spec.channels_in * math.prod(spec.patch_sizes)
            )
            env[spec.patches_list_write_key] = _Sym(
                "stream", role="patches", ops=(name,), dim=dim, source=src.info["source"],
                patch_sizes=spec.patch_sizes,
            )  # fmt: skip
        elif isinstance(spec, RegistersSpec):
            _get(env, spec.input_tensor_list_read_key, where, "stream")
            env[spec.registers_write_key] = _Sym(
                "stream", role="registers", ops=(name,), dim=spec.dim, source="learned"
            )
            if spec.extra_registers_write_key is not None:
                env[spec.extra_registers_write_key] = _Sym("unused", by=name)
        elif isinstance(spec, LinearLayerSpec):
            src = _get(env, spec.read_key, where, "quants", "stream")
            if src.kind == "quants":
                if spec.dim_in != src.info["dim"]:
                    _fail(where, f"dim_in={spec.dim_in} but the FSQ has {src.info['dim']} channels")
                env[spec.write_key] = _Sym(
                    "stream", role="registers", ops=(name,), dim=spec.dim, source="quants"
                )
            else:
                if spec.dim_in != src.info["dim"]:
                    _fail(where, f"dim_in={spec.dim_in} but the stream is {src.info['dim']} wide")
                env[spec.write_key] = _Sym(
                    "stream", **{**src.info, "ops": src.info["ops"] + (name,), "dim": spec.dim}
                )
        elif isinstance(spec, PosEmbSpec):
            src = _get(env, spec.read_key, where, "stream")
            rank = 3 if src.info["role"] == "patches" else 2
            if len(spec.max_sizes) != rank:
                _fail(where, f"{len(spec.max_sizes)}-D posemb on {src.info['role']} ({rank}-D)")
            if spec.dim != src.info["dim"]:
                _fail(where, f"dim={spec.dim} but the stream is {src.info['dim']} wide")
            if spec.posemb_scaling == "interpolate" and rank != 2:
                _fail(where, "interpolated positional embeddings are 2-D only")
            if spec.posemb_write_key is not None:
                env[spec.posemb_write_key] = _Sym("unused", by=name)
            env[spec.write_key] = _Sym("stream", **{**src.info, "ops": src.info["ops"] + (name,)})
        elif isinstance(spec, NestedDropoutSpec | PrefixDropoutSpec | NullCondSpec):
            key = spec.read_write_key
            src = _get(env, key, where, "stream")
            if src.info["role"] != "registers":
                _fail(where, "token dropout / null condition only apply to register streams")
            if spec.dim != src.info["dim"]:
                _fail(where, f"dim={spec.dim} but the stream is {src.info['dim']} wide")
            if any(other is src for k, other in env.items() if k != key):
                _fail(where, f"{key!r} is modified in place while another key aliases it")
            env[key] = _Sym("stream", **{**src.info, "ops": src.info["ops"] + (name,)})
        elif isinstance(spec, TimeEmbedderSpec):
            _get(env, spec.timesteps_read_key, where, "timesteps")
            env[spec.time_embedding_write_key] = _Sym("temb", dim=spec.dim, by=name)
            time_embedders.append(name)
        elif isinstance(spec, PackerSpec):
            streams = [_get(env, k, where, "stream") for k in spec.input_list_read_keys]
            if len({s.info["dim"] for s in streams}) != 1:
                _fail(where, "packed streams must have the same width")
            if spec.emb_packing_fn_write_key is not None:
                if not spec.per_subseq_embs:
                    _fail(where, "per_subseq_embs=False is not implemented upstream")
                env[spec.emb_packing_fn_write_key] = _Sym("packing_fn", packer=name, n=len(streams))
            env[spec.packed_seq_write_key] = _Sym(
                "packed", packer=name, streams=streams, layer=None
            )
            env[spec.block_mask_write_key] = _Sym("mask", packer=name)
            env[spec.inner_packed_shapes_write_key] = _Sym("shapes", packer=name)
            env[spec.outer_packed_shapes_write_key] = _Sym("shapes", packer=name)
            if spec.repa_block_mask_write_key is not None:
                if streams[spec.repa_patch_index].info["role"] != "patches":
                    _fail(where, "repa_patch_index must point at the patch stream")
                env[spec.repa_block_mask_write_key] = _Sym("repa_mask", packer=name)
            packers.append(name)
        elif isinstance(spec, TransformerSpec):
            src = _get(env, spec.input_seq_read_key, where, "packed")
            if src.info["layer"] is not None:
                _fail(where, "a transformer must read a freshly packed sequence")
            packer = src.info["packer"]
            if spec.block_mask_read_key is None:
                _fail(where, "a transformer without the packer's block mask would mix samples")
            mask = _get(env, spec.block_mask_read_key, where, "mask")
            if mask.info["packer"] != packer:
                _fail(where, "block mask and sequence come from different packers")
            if spec.dim != src.info["streams"][0].info["dim"]:
                _fail(where, f"dim={spec.dim} but the packed tokens are wider/narrower")
            if spec.adaLN_emb_read_key is not None:
                temb = _get(env, spec.adaLN_emb_read_key, where, "temb")
                if temb.info["dim"] != spec.dim:
                    _fail(where, "time embedding width differs from the transformer width")
                if spec.adaLN_packing_fn_read_key is None:
                    _fail(where, "adaLN needs the packer's embedding packing function")
                fn = _get(env, spec.adaLN_packing_fn_read_key, where, "packing_fn")
                if fn.info["packer"] != packer or fn.info["n"] != spec.adaLN_expansion:
                    _fail(
                        where,
                        f"adaLN_expansion={spec.adaLN_expansion} must equal the number of "
                        f"packed streams ({fn.info['n']})",
                    )
            for layer in spec.intermediate_layers:
                if not 0 <= layer < spec.depth:
                    _fail(where, f"intermediate layer {layer} outside 0..{spec.depth - 1}")
            env[spec.output_seq_write_key] = _Sym("packed", **{**src.info, "layer": -1})
            if spec.intermediate_layer_write_key is not None:
                env[spec.intermediate_layer_write_key] = _Sym(
                    "packed", **{**src.info, "layer": tuple(spec.intermediate_layers)}
                )
            transformers.append((name, packer))
        elif isinstance(spec, UnpackerSpec):
            src = _get(env, spec.packed_seq_read_key, where, "packed")
            if src.info["layer"] is None:
                _fail(where, "unpacks a sequence that no transformer has processed")
            for k in (spec.inner_packed_shapes_read_key, spec.outer_packed_shapes_read_key):
                if _get(env, k, where, "shapes").info["packer"] != src.info["packer"]:
                    _fail(where, "packed shapes come from a different packer")
            if len(spec.inner_seq_write_keys) != len(src.info["streams"]):
                _fail(where, "must write one key per packed stream")
            layer = src.info["layer"]
            if isinstance(layer, tuple):
                if len(layer) != 1:
                    _fail(where, "unpacking several intermediate layers at once is not supported")
                layer = layer[0]
            for i, k in enumerate(spec.inner_seq_write_keys):
                role = src.info["streams"][i].info["role"]
                env[k] = _Sym("trunk_out", index=i, role=role, layer=layer, dim=src.info[
                    "streams"][i].info["dim"], packer=src.info["packer"])  # fmt: skip
        elif isinstance(spec, LinearHeadSpec):
            src = _get(env, spec.read_key, where, "trunk_out")
            if src.info["layer"] != -1:
                _fail(where, "output heads must read the final transformer layer")
            if spec.dim != src.info["dim"]:
                _fail(where, f"dim={spec.dim} but the tokens are {src.info['dim']} wide")
            if spec.adaLN_emb_read_key is not None:
                temb = _get(env, spec.adaLN_emb_read_key, where, "temb")
                if temb.info["dim"] != spec.dim:
                    _fail(where, "time embedding width differs from the head width")
                if spec.adaLN_packing_fn_read_key is not None:
                    _fail(where, "a head's adaLN cannot use the packer's per-stream packing fn")
            if spec.patch_sizes is not None:
                if src.info["role"] != "patches":
                    _fail(where, "ToPatchesLinearHead must read the patch stream")
                role = "patches_out"
            else:
                role = "linear_out"
            env[spec.write_key] = _Sym("head_out", role=role, stream=src.info["index"], by=name,
                                       dim=spec.dim_out, spec=spec)  # fmt: skip
            heads.append((name, src.info["index"], spec))
        elif isinstance(spec, TransformerHeadSpec):
            src = _get(env, spec.read_key, where, "trunk_out")
            if src.info["role"] != "patches" or src.info["layer"] == -1:
                _fail(
                    where,
                    "a TransformerHead (REPA) reads the patch tokens of an intermediate layer",
                )
            if spec.dim != src.info["dim"]:
                _fail(where, f"dim={spec.dim} but the tokens are {src.info['dim']} wide")
            if spec.block_mask_read_key is not None:
                m = _get(env, spec.block_mask_read_key, where, "repa_mask")
                if m.info["packer"] != src.info["packer"]:
                    _fail(where, "REPA mask comes from a different packer")
            env[spec.write_key] = _Sym("unused", by=name)
            repa.append((name, src.info["layer"], src.info["index"]))
        else:  # pragma: no cover
            raise AssertionError(spec)

    out = env.get(output_key)
    if out is None or out.kind != output_kind:
        _fail(path, f"does not produce {output_key!r} ({output_kind})")
    if len(packers) != 1 or len(transformers) != 1:
        _fail(path, "exactly one packer and one transformer are supported")
    if len(time_embedders) > 1 or len(repa) > 1:
        _fail(path, "at most one time embedder and one REPA head are supported")
    name_t, packer = transformers[0]
    packed = [s for s in env.values() if s.kind == "packed" and s.info["packer"] == packer]
    streams = packed[0].info["streams"]
    if output_kind == "head_out":
        head = next(h for h in heads if h[0] == out.info["by"])
    else:
        head = next((h for h in heads if h[2].patch_sizes is not None), None)
        if head is None:
            _fail(path, "no ToPatchesLinearHead produces the velocity")
    spec_t: TransformerSpec = dict(modules)[name_t]
    if spec_t.adaLN_emb_read_key is not None and not time_embedders:
        _fail(path, "adaLN needs a time embedder")
    repa_head, repa_layer, repa_stream = repa[0] if repa else (None, None, None)
    return TrunkPlan(
        modules=tuple(modules),
        streams=tuple((s.info["role"], s.info["ops"]) for s in streams),
        packer=packers[0],
        transformer=name_t,
        time_embedder=time_embedders[0] if time_embedders else None,
        head=head[0],
        head_stream=head[1],
        repa_head=repa_head,
        repa_layer=repa_layer,
        repa_stream=repa_stream,
    )


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
    allowed = {"_target_", "vae", "encoder", "decoder", "regularizer", "flow_matching_noise_module",
               "pipeline"}  # fmt: skip
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
        enc_mods, f"{path}.encoder",
        {vae.vae_latents_write_key: _Sym("latents_cf", source="vae")},
        fsq.latents_read_key, "head_out",
    )  # fmt: skip
    enc_head = encoder.spec(encoder.head)
    if encoder.streams[encoder.head_stream][0] != "registers":
        _fail(f"{path}.encoder.module_dict.{encoder.head}", "the token head must read registers")
    if enc_head.dim_out != len(fsq.levels):
        _fail(f"{path}.encoder.module_dict.{encoder.head}",
              f"dim_out={enc_head.dim_out} but FSQ has {len(fsq.levels)} levels")  # fmt: skip

    if pipe.latents_read_key != fsq.quants_write_key:
        _fail(f"{path}.pipeline", "latents_read_key must be the FSQ quants key")
    if pipe.reconst_write_key != vae.vae_latents_read_key:
        _fail(f"{path}.pipeline", "reconst_write_key must be the VAE's vae_latents_read_key")
    if pipe.out_channels != z:
        _fail(f"{path}.pipeline", f"out_channels={pipe.out_channels} but the VAE has {z}")
    if pipe.timesteps_read_key is None or pipe.noised_videos_read_key is None:
        _fail(f"{path}.pipeline", "timesteps_read_key and noised_videos_read_key are required")
    dec_inputs = {
        fsq.quants_write_key: _Sym("quants", dim=len(fsq.levels)),
        pipe.timesteps_read_key: _Sym("timesteps"),
        pipe.noised_videos_read_key: _Sym("latents_cf", source="noise"),
    }
    decoder = resolve_trunk(
        dec_mods, f"{path}.decoder", dec_inputs, pipe.reconst_write_key, "latents_cf"
    )
    names = dict(dec_mods)
    if not isinstance(names.get("dec_nested_dropout"), NestedDropoutSpec):
        _fail(f"{path}.decoder", "needs a MaskedNestedDropout named 'dec_nested_dropout'")
    if "dec_prefix_masking" in names and not isinstance(
        names["dec_prefix_masking"], PrefixDropoutSpec
    ):
        _fail(f"{path}.decoder", "'dec_prefix_masking' must be a MaskedPrefixDropout")
    if overlap > 0 and pipe.cond_vae_latents_key is None:
        _fail(f"{path}.pipeline", "overlapping chunks need cond_vae_latents_key")
    _check_sizes(encoder, decoder, fsq, sizes, z, f"{path}")

    return ModelConfig(
        vae=vae, encoder=encoder, decoder=decoder, fsq=fsq, pipeline=pipe, noise_module=noise,
        chunk_size=chunk, overlap_size_frames=overlap, vae_video_sizes=sizes,
        video_preprocess_args=tuple((cfg.get("video_preprocess_args") or {}).items()), raw=raw,
    )  # fmt: skip


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


def load_config_file(path) -> ModelConfig:
    with open(path, encoding="utf-8") as f:
        return parse_config(f.read())
