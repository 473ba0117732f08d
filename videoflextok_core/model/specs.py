"""Frozen descriptions of a VideoFlexTok model, as read from its hub config by config.py.

One dataclass per allowed official class (its hyperparameters with the official defaults; the
annotations are the types config.py checks), the `TrunkPlan` of an encoder or decoder (resolved by
wiring.py), and the whole `ModelConfig`.

Data keys (the `*_key` fields) are read by config.py and wiring.py only. Code that runs the model
reads roles, module names and the resolved facts below (`TrunkPlan.active`, `has_adaLN`,
`PipelineSpec.pin_conditioning`, ...), never a key.
"""

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from .chunking import Chunking
from .sampling import Sampler
from .vidtok import VidTokSpec

# Metadata of a field that config.py computes instead of reading it from the config.
DERIVED = {"derived": True}


class UnsupportedConfigError(ValueError):
    """A config that is malformed, not allowed, or wired in a way this port does not run."""


def fail(path: str, msg: str):
    raise UnsupportedConfigError(f"{path}: {msg}")


class Role(Enum):
    """What a packed token stream is made of."""

    PATCHES = "patches"  # patches of VAE latents, a (t, h', w') grid
    REGISTERS = "registers"  # registers or token embeddings, a (t, N) grid


class Stream(NamedTuple):
    """One packed sub-sequence: its role and the modules that make it, in execution order (the
    first one creates it)."""

    role: Role
    ops: tuple[str, ...]


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
    def has_extra_registers(self) -> bool:
        """A second, training-only register table (loaded, never used at inference)."""
        return self.extra_registers_write_key is not None

    @property
    def n_tokens(self) -> int:
        """Registers per latent frame at inference: upstream slices `n_eval or n_max` rows of
        an `n_max`-wide table, so an n_eval above n_max quietly gives n_max."""
        return min(self.n_eval or self.n_max, self.n_max)


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
    intermediate_layers: tuple[int, ...] | None = None

    @property
    def has_adaLN(self) -> bool:
        """Blocks modulated by the time embedding."""
        return self.adaLN_emb_read_key is not None


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
    norm: bool = field(default=True, metadata=DERIVED)  # False for `norm_layer: null`
    dtype_override: str | None = None
    adaLN_emb_read_key: str | None = None
    adaLN_packing_fn_read_key: str | None = None
    adaLN_bias: bool = True
    proj_bias: bool = True
    channels_out: int | None = None  # ToPatchesLinearHead only
    patch_sizes: tuple[int, ...] | None = None  # ToPatchesLinearHead only

    @property
    def has_adaLN(self) -> bool:
        """Shift and scale from the time embedding before the projection."""
        return self.adaLN_emb_read_key is not None


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

    @property
    def masked(self) -> bool:
        """Attends with the packer's REPA mask (else fully)."""
        return self.block_mask_read_key is not None


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
    # Upstream pins the conditioning latents only when cond_vae_latents_key is the key the model
    # writes them under; otherwise conditioning frames give tokens and prefix masking only.
    pin_conditioning: bool = field(default=False, metadata=DERIVED)


@dataclass(frozen=True)
class MinRFNoiseSpec:
    """Training-time noising of `MinRFNoiseModule`; unused at inference."""

    clean_images_read_key: str
    noised_images_write_key: str
    timesteps_write_key: str
    sigmas_write_key: str
    ln: bool = True
    stratisfied: bool = False
    mode_scale: float = 0.0
    noise_write_key: str = "flow_noise"
    noise_read_key: str | None = None


@dataclass(frozen=True)
class PrefixMinRFNoiseSpec(MinRFNoiseSpec):
    """Training-time noising of `PrefixMinRFNoiseModule` (clean conditioning prefixes)."""

    prefix_len: tuple[int, ...] | None = None
    keep_prefix_prob: tuple[float, ...] | None = None
    loss_mask_write_key: str = "loss_mask"
    prefix_len_write_key: str = "prefix_len"
    cond_sigma_range: tuple[float, float] = (0.0, 0.02)
    cond_noise_prob: float = 0.5


NoiseModuleSpec = MinRFNoiseSpec | PrefixMinRFNoiseSpec


ModuleSpec = (
    PerSampleOpSpec
    | PatchEmbedderSpec
    | PosEmbSpec
    | RegistersSpec
    | PackerSpec
    | TransformerSpec
    | UnpackerSpec
    | LinearHeadSpec
    | TransformerHeadSpec
    | LinearLayerSpec
    | NestedDropoutSpec
    | PrefixDropoutSpec
    | NullCondSpec
    | TimeEmbedderSpec
)


@dataclass(frozen=True)
class TrunkPlan:
    """How one SequentialModuleDictWrapper runs, resolved from its read/write keys.

    streams: the packed sub-sequences in packing order.
    active: the token-dropout modules (nested dropout, prefix masking, null condition) that an
        inference input reaches (upstream: the data key it reads is one its inference code
        writes); the others are identities at inference.
    """

    modules: tuple[tuple[str, ModuleSpec], ...]  # all modules, file order
    streams: tuple[Stream, ...]
    packer: str
    transformer: str
    time_embedder: str | None
    head: str  # reads the unpacked output of stream `head_stream`
    head_stream: int
    repa_head: str | None = None  # TransformerHead on an intermediate layer (training aux.)
    repa_layer: int | None = None
    repa_stream: int | None = None
    active: frozenset[str] = frozenset()

    def spec(self, name: str) -> ModuleSpec:
        return dict(self.modules)[name]

    def stream(self, role: Role) -> Stream:
        """The first stream with that role."""
        return next(s for s in self.streams if s.role is role)


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
    video_preprocess_args: tuple[tuple[str, object], ...] = ()
    raw: str = "{}"  # the config as JSON text (file order kept), for saving

    @property
    def raw_dict(self) -> dict:
        return json.loads(self.raw)

    @property
    def nested_dropout(self) -> NestedDropoutSpec | None:
        """The module upstream hands `num_keep_tokens_list` to (by name); None if absent."""
        return dict(self.decoder.modules).get("dec_nested_dropout")

    @property
    def prefix_masking(self) -> PrefixDropoutSpec | None:
        return dict(self.decoder.modules).get("dec_prefix_masking")

    @property
    def can_drop_tokens(self) -> bool:
        """Whether keep_k reaches a nested-dropout module (upstream: the one named
        `dec_nested_dropout` and any other reading its key)."""
        plan = self.decoder
        return any(isinstance(plan.spec(name), NestedDropoutSpec) for name in plan.active)

    @property
    def n_registers(self) -> int:
        """Tokens per latent frame."""
        return self.encoder.spec(self.encoder.stream(Role.REGISTERS).ops[0]).n_tokens

    @property
    def chunking(self) -> Chunking:
        """The sliding window: chunk size, overlap and the VAE's temporal compression."""
        tdf = self.vae.arch.time_downsample_factor
        return Chunking(self.chunk_size, self.overlap_size_frames, tdf)

    @property
    def tokens_per_chunk(self) -> int:
        return self.chunking.tokens_per_chunk

    @property
    def resolution(self) -> tuple[int, int]:
        s = self.vae.arch.spatial_downsample_factor
        return self.vae_video_sizes[1] * s, self.vae_video_sizes[2] * s

    @property
    def codebook_size(self) -> int:
        return math.prod(self.fsq.levels)

    # What the checkpoint says about running it (the app, the CLI): frame rate, tuned sampler.

    @property
    def fps(self) -> float:
        """Frame rate the model was trained at (`video_preprocess_args["fps"]`), else 8."""
        return float(dict(self.video_preprocess_args).get("fps", 8.0))

    def demo_sampler(self, fallback: Sampler | None = None) -> Sampler:
        """The checkpoint's tuned sampler: the config's top-level "demo_defaults" dict (upstream's
        keywords: {"timesteps", "guidance_scale", "perform_norm_guidance"}) over `fallback`,
        default 25 steps with guidance off (one decoder forward per step, CPU friendly)."""
        fallback = Sampler(steps=25) if fallback is None else fallback
        given = self.raw_dict.get("demo_defaults") or {}
        if not isinstance(given, dict):
            raise ValueError(f"config demo_defaults must be a dict, got {type(given).__name__}")
        names = ("timesteps", "guidance_scale", "perform_norm_guidance")
        tuned = {**fallback.official(), **{k: given[k] for k in names if k in given}}
        return Sampler.from_official(seed=fallback.seed, **tuned)
