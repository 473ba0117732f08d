"""The VideoFlexTok resampler: a register encoder (VAE latents -> N tokens per latent frame) and a
rectified-flow decoder (tokens + noisy latents + flow time -> velocity).

Both are `Trunk`s built from a `TrunkPlan` (config.py): token streams (patches of the VAE latents,
and registers), each created and transformed by a few small modules in config order, interleaved
per latent frame into one sequence [frame 0: patches, registers | frame 1: ... ], run through a
transformer with a block mask, split again, and read out by a linear head.

Upstream packs the samples of a batch into ONE sequence (batch size 1) and pads it to a multiple
of 128 for flex attention. Every sample here has the same layout, so we keep a real batch axis and
an (L, L) mask shared by all samples: the same computation, without padding.

Legend: B batch, z VAE channels, t latent frames, h/w latent grid, h'/w' patch grid,
N registers per frame, P = h'w' patches per frame, L tokens per frame, D width.
"""

from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from .bf16 import Bf16Blocks, query_blocks, runs_bf16, transformer_bf16
from .layers import (
    BlockSpec,
    Linear,
    PositionalEmbedding,
    TimestepEmbedder,
    Transformer,
    layer_norm_fp32,
    modulate,
)
from .specs import (
    LinearHeadSpec,
    LinearLayerSpec,
    NestedDropoutSpec,
    NullCondSpec,
    PackerSpec,
    PatchEmbedderSpec,
    PosEmbSpec,
    PrefixDropoutSpec,
    RegistersSpec,
    Role,
    TimeEmbedderSpec,
    TransformerHeadSpec,
    TransformerSpec,
    TrunkPlan,
)

_DTYPES = {
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float32": torch.float32,
    "fp32": torch.float32,
}


def dtype_override(x: torch.Tensor, name: str | None):
    """Upstream's `dtype_override`: run a layer under autocast to that dtype (float32 = off)."""
    if name is None:
        return nullcontext()
    dtype = _DTYPES[name]
    return torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32)


# ----------------------------------------------------------------------------------------------
# Small modules (parameter names = checkpoint names)
# ----------------------------------------------------------------------------------------------


def patchify(x: torch.Tensor, patch: tuple[int, int, int]) -> torch.Tensor:
    """(B, t, h, w, C) -> (B, t/pt, h/ph, w/pw, pt*ph*pw*C); channel fastest inside a patch."""
    B, T, H, W, C = x.shape
    pt, ph, pw = patch
    x = x.reshape(B, T // pt, pt, H // ph, ph, W // pw, pw, C)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(B, T // pt, H // ph, W // pw, pt * ph * pw * C)


def unpatchify(x: torch.Tensor, patch: tuple[int, int, int]) -> torch.Tensor:
    """(B, n0, n1, n2, pt*ph*pw*C) -> (B, n0*pt, n1*ph, n2*pw, C); inverse of `patchify`."""
    B, n0, n1, n2, E = x.shape
    pt, ph, pw = patch
    C = E // (pt * ph * pw)
    x = x.reshape(B, n0, n1, n2, pt, ph, pw, C).permute(0, 1, 4, 2, 5, 3, 6, 7)
    return x.reshape(B, n0 * pt, n1 * ph, n2 * pw, C)


class PatchEmbed(nn.Module):
    """Channels-last latents (B, t, h, w, z) -> patch tokens (B, t, h', w', D)."""

    def __init__(self, spec: PatchEmbedderSpec):
        super().__init__()
        self.patch_sizes = tuple(spec.patch_sizes)
        dim_in = spec.channels_in * self.patch_sizes[1] * self.patch_sizes[2]
        self.patch_proj = Linear(dim_in, spec.dim) if spec.dim is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_proj(patchify(x, self.patch_sizes))


class Registers(nn.Module):
    """Learned register tokens, one set of N per latent frame: (t,) -> (B, t, N, D)."""

    def __init__(self, spec: RegistersSpec):
        super().__init__()
        self.n_tokens = spec.n_tokens
        self.registers = nn.Parameter(torch.zeros(spec.t_max, spec.n_max, spec.dim))
        nn.init.trunc_normal_(self.registers, std=0.02)
        if spec.has_extra_registers:  # loaded, never used at inference
            self.extra_registers = nn.Parameter(
                torch.zeros(spec.t_max, spec.n_max, spec.extra_registers_dim)
            )

    def forward(self, batch: int, t: int) -> torch.Tensor:
        if t > self.registers.shape[0]:
            raise ValueError(
                f"{t} latent frames exceed the {self.registers.shape[0]} register rows"
            )
        return self.registers[:t, : self.n_tokens].expand(batch, -1, -1, -1)


class LinearLayer(nn.Module):
    """(..., dim_in) -> (..., dim). Port of `LinearLayer` (e.g. FSQ values -> decoder width)."""

    def __init__(self, spec: LinearLayerSpec):
        super().__init__()
        self.dtype_override = spec.dtype_override
        self.proj = Linear(spec.dim_in, spec.dim, bias=spec.proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with dtype_override(x, self.dtype_override):
            return self.proj(x)


class MaskToken(nn.Module):
    """A learned token that replaces dropped registers (nested dropout / prefix masking)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dropout_mask_token = nn.Parameter(torch.zeros(dim))
        nn.init.trunc_normal_(self.dropout_mask_token, std=0.02)


class NestedDropout(MaskToken):
    """Keep the first keep_k registers of every latent frame, replace the rest (FlexTok's
    nested dropout at inference). x (B, t, N, D), keep_k (B,) -> (B, t, N, D)."""

    def forward(self, x: torch.Tensor, keep_k: torch.Tensor) -> torch.Tensor:
        keep = torch.arange(x.shape[2], device=x.device)[None] < keep_k[:, None]  # (B, N)
        return torch.where(keep[:, None, :, None], x, self.dropout_mask_token.to(x.dtype))


class PrefixMasking(MaskToken):
    """Replace all registers of the first prefix_len latent frames (the conditioning frames,
    whose content comes from clean VAE latents instead). x (B, t, N, D), prefix_len (B,)."""

    def forward(self, x: torch.Tensor, prefix_len: torch.Tensor) -> torch.Tensor:
        masked = torch.arange(x.shape[1], device=x.device)[None] < prefix_len[:, None]  # (B, t)
        return torch.where(masked[:, :, None, None], self.dropout_mask_token.to(x.dtype), x)


class NullCond(nn.Module):
    """The learned null condition for classifier-free guidance: every register of the samples
    flagged `uncond` (B,) bool is replaced by `nullcond` (D,)."""

    def __init__(self, dim: int):
        super().__init__()
        self.nullcond = nn.Parameter(torch.zeros(dim))
        nn.init.trunc_normal_(self.nullcond, std=0.02)

    def forward(self, x: torch.Tensor, uncond: torch.Tensor) -> torch.Tensor:
        return torch.where(uncond[:, None, None, None], self.nullcond.to(x.dtype), x)


class LinearHead(nn.Module):
    """LayerNorm (no affine, optional) -> optional adaLN (shift first) -> Linear. For the patches
    head the output is unpatchified: (B, t, h', w', D) -> (B, t, h, w, C)."""

    def __init__(self, spec: LinearHeadSpec):
        super().__init__()
        self.use_norm = spec.norm
        self.dtype_override = spec.dtype_override
        self.patch_sizes = tuple(spec.patch_sizes) if spec.patch_sizes is not None else None
        if spec.has_adaLN:
            self.adaLN_modulation = nn.Sequential(
                nn.SiLU(), Linear(spec.dim, 2 * spec.dim, bias=spec.adaLN_bias)
            )
        else:
            self.adaLN_modulation = None
        self.proj = Linear(spec.dim, spec.dim_out, bias=spec.proj_bias)

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        with dtype_override(x, self.dtype_override):
            if self.use_norm:
                x = layer_norm_fp32(x)
            if self.adaLN_modulation is not None:
                shift, scale = self.adaLN_modulation(temb).chunk(2, dim=-1)  # (B, D) each
                view = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
                x = modulate(x, shift.view(view), scale.view(view))
            x = self.proj(x)
        if self.patch_sizes is not None:
            x = unpatchify(x, self.patch_sizes)
        return x


class TransformerHead(nn.Module):
    """REPA head (a training-time alignment branch): a small transformer over the patch tokens
    of an intermediate decoder layer, then a bias-free (by default) projection. Its output is
    never used for reconstruction; we keep it to load and check the weights."""

    def __init__(self, spec: TransformerHeadSpec):
        super().__init__()
        self.dtype_override = spec.dtype_override
        block = BlockSpec(
            spec.dim,
            spec.head_dim,
            mlp_ratio=spec.mlp_ratio,
            qkv_bias=spec.qkv_bias,
            proj_bias=spec.proj_bias,
            mlp_bias=spec.mlp_bias,
        )
        self.transformer = Transformer(block, spec.depth)
        self.out_proj = Linear(spec.dim, spec.dim_out, bias=spec.proj_bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, t, h', w', D) -> (B, t, h', w', dim_out)."""
        B, t, hp, wp, D = x.shape
        with dtype_override(x, self.dtype_override):
            y, _ = self.transformer(x.reshape(B, t * hp * wp, D), mask)
            y = self.out_proj(y)
        return y.reshape(B, t, hp, wp, -1)


def make_module(spec) -> nn.Module | None:
    """Our module for one config module spec (None for parameter-free plumbing)."""
    if isinstance(spec, PatchEmbedderSpec):
        return PatchEmbed(spec)
    if isinstance(spec, PosEmbSpec):
        return PositionalEmbedding(
            spec.dim, list(spec.max_sizes), spec.posemb_type, spec.posemb_scaling
        )
    if isinstance(spec, RegistersSpec):
        return Registers(spec)
    if isinstance(spec, LinearLayerSpec):
        return LinearLayer(spec)
    if isinstance(spec, NestedDropoutSpec):
        return NestedDropout(spec.dim)
    if isinstance(spec, PrefixDropoutSpec):
        return PrefixMasking(spec.dim)
    if isinstance(spec, NullCondSpec):
        return NullCond(spec.dim)
    if isinstance(spec, TimeEmbedderSpec):
        return TimestepEmbedder(spec.dim, spec.frequency_embedding_size, spec.max_timestep)
    if isinstance(spec, TransformerSpec):
        expansion = spec.adaLN_expansion if spec.has_adaLN else 0
        block = BlockSpec(
            spec.dim,
            spec.head_dim,
            mlp_ratio=spec.mlp_ratio,
            qkv_bias=spec.qkv_bias,
            proj_bias=spec.proj_bias,
            mlp_bias=spec.mlp_bias,
            gated_mlp=spec.gated_mlp,
            qk_norm=spec.qk_norm,
            adaln_expansion=expansion,
        )
        return Transformer(block, spec.depth)
    if isinstance(spec, LinearHeadSpec):
        return LinearHead(spec)
    if isinstance(spec, TransformerHeadSpec):
        return TransformerHead(spec)
    return None


# ----------------------------------------------------------------------------------------------
# Attention masks (built once per layout, cached)
# ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _mask_cpu(mode: str, t: int, sizes: tuple[int, ...], cross: tuple | None) -> torch.Tensor:
    L = sum(sizes)
    prefix = L - sizes[-1]  # every stream but the last is "prefix" (patches before registers)
    j = torch.arange(t * L)
    frame, pos = j // L, j % L
    fq, fk = frame[:, None], frame[None, :]
    pq, pk = pos[:, None], pos[None, :]
    if mode == "full":
        return torch.ones(t * L, t * L, dtype=torch.bool)
    if mode == "causal":
        return j[None, :] <= j[:, None]
    if mode == "time_block_causal":
        return fk <= fq
    same_frame = (fk == fq) & ((pk <= pq) | (pk < prefix))
    if mode == "time_block_causal_last":
        return (fk < fq) | same_frame
    if mode == "flexible_time_block_causal_last":
        c = dict(cross)
        q_pre, k_pre = pq < prefix, pk < prefix
        cross_ok = (
            (q_pre & k_pre & (c["prefix2prefix"] == "full"))
            | (q_pre & ~k_pre & (c["prefix2nonprefix"] == "full"))
            | (~q_pre & k_pre & (c["nonprefix2prefix"] == "full"))
            | (~q_pre & ~k_pre & (c["nonprefix2nonprefix"] == "full"))
            | (~q_pre & ~k_pre & (c["nonprefix2nonprefix"] == "causal") & (pk <= pq))
        )
        return same_frame | ((fk < fq) & cross_ok)
    raise ValueError(f"unknown mask mode {mode!r}")


def attention_mask(spec: PackerSpec, t: int, sizes: tuple[int, ...], device) -> torch.Tensor:
    """(t*L, t*L) bool mask for one sample: True where query row may attend key column."""
    return _mask_cpu(spec.mask_mode, t, tuple(sizes), spec.cross_timestep_attention_config).to(
        device
    )


def repa_mask(spec: PackerSpec, t: int, patches: int, device) -> torch.Tensor | None:
    """(t*P, t*P) mask of the REPA head over patch tokens only."""
    if spec.repa_mask_mode == "full":
        return None
    return _mask_cpu("time_block_causal", t, (patches,), None).to(device)


# ----------------------------------------------------------------------------------------------
# Trunk
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrunkAux:
    """Inner outputs of one trunk forward (for tests and training; decoding never needs them).

    tokens: the final tokens of each stream, in `plan.streams` order, (B, t, *grid, D).
    temb: (B, D) time embedding, None without a time embedder.
    repa: (B, t, h', w', dim_out) REPA head prediction, None without a REPA head.
    """

    roles: tuple[Role, ...]
    tokens: tuple[torch.Tensor, ...]
    temb: torch.Tensor | None
    repa: torch.Tensor | None

    def stream(self, role: Role) -> torch.Tensor:
        """The final tokens of the first stream with that role."""
        return self.tokens[self.roles.index(role)]


class Trunk(nn.Module):
    """An encoder or decoder: streams -> packed transformer -> head.

    `module_dict` holds our modules under the config's names, so parameter names are exactly
    `{encoder,decoder}.module_dict.<name>.<param>` as in the checkpoint.
    """

    def __init__(self, plan: TrunkPlan):
        super().__init__()
        self.plan = plan
        self.module_dict = nn.ModuleDict()
        for name, spec in plan.modules:
            module = make_module(spec)
            if module is not None:
                self.module_dict[name] = module
        self.packer: PackerSpec = plan.spec(plan.packer)
        # Stream index of each position inside a latent frame, for adaLN (set per layout).
        self._stream_index_cache: dict = {}
        self._bf16_blocks = Bf16Blocks()  # the transformer's bf16 weights, made on first use
        self._query_blocks_cache: dict = {}  # the mask as bf16.query_blocks, per layout

    # Role accessors over module_dict (a second attribute would duplicate state-dict keys).
    @property
    def transformer(self) -> Transformer:
        return self.module_dict[self.plan.transformer]

    @property
    def head(self) -> LinearHead:
        return self.module_dict[self.plan.head]

    @property
    def time_embedder(self) -> TimestepEmbedder | None:
        name = self.plan.time_embedder
        return self.module_dict[name] if name is not None else None

    def _stream(
        self,
        ops: tuple[str, ...],
        latents_cl: torch.Tensor,
        quants: torch.Tensor | None,
        keep_k: torch.Tensor | None,
        prefix_len: torch.Tensor | None,
        uncond: torch.Tensor | None,
    ) -> torch.Tensor:
        """Run one stream's modules in config order -> (B, t, *grid, D). The first module makes
        the stream: patches of the channels-last latents (B, t, h, w, z), learned registers,
        or a projection of the FSQ values (B, t, N, d)."""
        B, t = latents_cl.shape[:2]
        x = None
        for name in ops:
            m = self.module_dict[name]
            if isinstance(m, PatchEmbed):
                x = m(latents_cl)
            elif isinstance(m, Registers):
                x = m(B, t)
            elif isinstance(m, LinearLayer):
                x = m(quants if x is None else x)
            elif isinstance(m, PositionalEmbedding):
                x = m(x)
            elif name not in self.plan.active:
                continue  # token dropout that no inference input reaches: identity
            elif isinstance(m, NestedDropout):
                x = x if keep_k is None else m(x, keep_k)
            elif isinstance(m, PrefixMasking):
                x = x if prefix_len is None else m(x, prefix_len)
            elif isinstance(m, NullCond):
                x = x if uncond is None else m(x, uncond)
            else:  # pragma: no cover
                raise AssertionError(name)
        return x

    def _stream_index(self, sizes: tuple[int, ...], device) -> torch.Tensor:
        key = (sizes, str(device))
        if key not in self._stream_index_cache:
            idx = torch.cat([torch.full((n,), i, dtype=torch.long) for i, n in enumerate(sizes)])
            self._stream_index_cache[key] = idx.to(device)
        return self._stream_index_cache[key]

    def _run(
        self,
        latents: torch.Tensor,
        quants: torch.Tensor | None = None,
        tau: torch.Tensor | None = None,
        keep_k: torch.Tensor | None = None,
        prefix_len: torch.Tensor | None = None,
        uncond: torch.Tensor | None = None,
        return_aux: bool = False,
    ) -> torch.Tensor | TrunkAux:
        """latents (B, z, t, h, w) channels-first -> the head's output, or with `return_aux`
        the inner outputs of the same forward (`TrunkAux`: tokens, temb, REPA prediction). The
        one forward of both parts; their `forward`s name its inputs."""
        B, _, t = latents.shape[:3]
        latents_cl = latents.permute(0, 2, 3, 4, 1)  # (B, t, h, w, z)
        tokens, grids = [], []
        for _, ops in self.plan.streams:
            x = self._stream(ops, latents_cl, quants, keep_k, prefix_len, uncond)
            grids.append(x.shape[2:-1])
            tokens.append(x.reshape(B, t, -1, x.shape[-1]))
        sizes = tuple(x.shape[2] for x in tokens)
        seq = torch.cat(tokens, dim=2).reshape(B, t * sum(sizes), -1)  # (B, t*L, D)
        mask = attention_mask(self.packer, t, sizes, seq.device)

        temb = self.time_embedder(tau) if self.time_embedder is not None else None
        keep = (self.plan.repa_layer,) if (return_aux and self.plan.repa_head) else ()
        stream_index = self._stream_index(sizes, seq.device)
        if runs_bf16(seq):  # the same math as under autocast, fewer passes (bf16.py)
            key = (t, sizes, str(seq.device))
            if key not in self._query_blocks_cache:
                self._query_blocks_cache[key] = query_blocks(mask, sum(sizes))
            blocks = self._query_blocks_cache[key]
            seq, kept = transformer_bf16(
                self.transformer, self._bf16_blocks, seq, blocks, temb, stream_index, keep
            )
        else:
            seq, kept = self.transformer(
                seq, mask, cond=temb, stream_index=stream_index, keep_layers=keep
            )
        outs = self._unpack(seq, B, t, sizes, grids)
        out = self.head(outs[self.plan.head_stream], temb)
        if not return_aux:
            return out
        repa = None
        if keep:
            inter = self._unpack(kept[0], B, t, sizes, grids)[self.plan.repa_stream]
            rmask = None  # a TransformerHead without a block mask attends fully
            if self.plan.spec(self.plan.repa_head).masked:
                rmask = repa_mask(self.packer, t, sizes[self.plan.repa_stream], seq.device)
            repa = self.module_dict[self.plan.repa_head](inter, rmask)
        roles = tuple(s.role for s in self.plan.streams)
        return TrunkAux(roles, tuple(outs), temb, repa)

    @staticmethod
    def _unpack(seq, B, t, sizes, grids) -> list[torch.Tensor]:
        parts = seq.reshape(B, t, sum(sizes), -1).split(list(sizes), dim=2)
        return [p.reshape(B, t, *g, p.shape[-1]) for p, g in zip(parts, grids)]


class Encoder(Trunk):
    """VAE latents (B, z, t, h, w) -> pre-quantisation latents (B, t, N, d); with `return_aux`
    the inner outputs instead (register tokens, REPA prediction: `TrunkAux`)."""

    def forward(self, latents: torch.Tensor, return_aux: bool = False):
        return self._run(latents, return_aux=return_aux)


class FlowDecoder(Trunk):
    """Velocity prediction v(x_tau, tau | tokens) of the rectified flow (noise - data).

    Args:
        quants: (B, t, N, d) FSQ values of the tokens.
        x: (B, z, t, h, w) noisy latents at flow time tau.
        tau: (B,) flow time in [0, 1] (1 = pure noise).
        keep_k: (B,) int, registers kept per latent frame (nested dropout); None keeps all.
        prefix_len: (B,) int, leading latent frames given as clean conditioning; None for 0.
        uncond: (B,) bool, samples that get the null condition (CFG's unconditional branch).
        return_aux: return the inner outputs instead (`TrunkAux`: tokens, temb, REPA).
    Returns:
        (B, z, t, h, w) velocity.
    """

    def forward(
        self, quants, x, tau, keep_k=None, prefix_len=None, uncond=None, return_aux: bool = False
    ):
        out = self._run(x, quants, tau, keep_k, prefix_len, uncond, return_aux)
        if return_aux:
            return out
        return out.permute(0, 4, 1, 2, 3)  # (B, t, h, w, z) -> (B, z, t, h, w)
