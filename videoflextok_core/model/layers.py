"""Transformer building blocks of the VideoFlexTok resampler (encoder and flow decoder).

Plain tensors in and out. Legend: B batch, L sequence length, D width, nh heads, hd head width.
Parameter names follow the official checkpoint (`wq/wk/wv/proj`, `fc1/fc2/fc3`,
`adaLN_modulation.1`, `mlp.0/mlp.2`), so loading needs no renames below the module prefix.

Float32 islands like upstream: every LayerNorm is computed in float32 (float64 for a float64
model: islands use the wider of float32 and the input dtype) and cast back.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def at_least_fp32(dtype: torch.dtype) -> torch.dtype:
    """The dtype of a float32 island: float32, or float64 for float64 inputs."""
    return torch.promote_types(dtype, torch.float32)


def layer_norm_fp32(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """LayerNorm over the last axis without affine parameters, computed in float32 (or wider)."""
    y = x.to(at_least_fp32(x.dtype))
    return F.layer_norm(y, (x.shape[-1],), eps=eps).type_as(x)


# oneDNN's matmul, where this torch build has it (CPU builds with mkldnn do).
_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(
    torch.ops.mkldnn, "_linear_pointwise"
)


class Linear(nn.Linear):
    """nn.Linear (same parameters, same results up to float32 rounding) that runs float32 CPU
    inference through oneDNN's matmul: torch's default BLAS (MKL) ran 85-100 GFLOP/s on one core
    of the AMD EPYC we measured on, oneDNN 180-200 (benchmarks/bench_speed.py). Autograd,
    autocast, other dtypes and devices keep F.linear."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            _ONEDNN_LINEAR
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and self.weight.dtype == torch.float32
            and not torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu")
        ):
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        return F.linear(x, self.weight, self.bias)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x * (1 + scale) + shift; the shift is added to the fresh product in place."""
    return (x * (1.0 + scale)).add_(shift)


# ----------------------------------------------------------------------------------------------
# Attention and MLP
# ----------------------------------------------------------------------------------------------


class Attention(nn.Module):
    """Multi-head self-attention with optional QK-norm and the muP scale 8 / head_dim.

    Port of `FlexSelfAttention`; the flex-attention block mask becomes a boolean SDPA mask.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        qkv_bias: bool = False,
        proj_bias: bool = False,
        qk_norm: bool = True,
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qk_norm = qk_norm
        self.scale = 8.0 / self.head_dim  # muP; equals 1/sqrt(hd) only for hd = 64
        self.wq = Linear(dim, dim, bias=qkv_bias)
        self.wk = Linear(dim, dim, bias=qkv_bias)
        self.wv = Linear(dim, dim, bias=qkv_bias)
        self.proj = Linear(dim, dim, bias=proj_bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, L, D), mask (L, L) bool (True = may attend) or None -> (B, L, D)."""
        B, L, D = x.shape
        q = self.wq(x).view(B, L, self.num_heads, self.head_dim).transpose(1, 2)  # (B, nh, L, hd)
        k = self.wk(x).view(B, L, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(B, L, self.num_heads, self.head_dim).transpose(1, 2)
        if self.qk_norm:
            q, k = layer_norm_fp32(q), layer_norm_fp32(k)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)
        y = y.transpose(1, 2).reshape(B, L, D)  # (B, L, D)
        return self.proj(y)


class Mlp(nn.Module):
    """fc2(silu(fc1 x)), hidden width int(D * mlp_ratio)."""

    def __init__(self, dim: int, hidden: int, *, bias: bool = False):
        super().__init__()
        self.fc1 = Linear(dim, hidden, bias=bias)
        self.fc2 = Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.silu(self.fc1(x), inplace=not torch.is_grad_enabled()))


class GatedMlp(nn.Module):
    """SwiGLU (Shazeer, 2020): fc2(silu(fc1 x) * fc3 x), hidden int(2 * int(D * mlp_ratio) / 3)."""

    def __init__(self, dim: int, hidden: int, *, bias: bool = False):
        super().__init__()
        hidden = int(2 * hidden / 3)
        self.fc1 = Linear(dim, hidden, bias=bias)
        self.fc2 = Linear(hidden, dim, bias=bias)
        self.fc3 = Linear(dim, hidden, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return self.fc2(F.silu(self.fc1(x)) * self.fc3(x))
        # The same values without the two (L, hidden) temporaries: in place on fc1's output.
        return self.fc2(F.silu(self.fc1(x), inplace=True).mul_(self.fc3(x)))


# ----------------------------------------------------------------------------------------------
# Transformer
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockSpec:
    """One transformer block's shape, as upstream's `FlexTransformer` takes it."""

    dim: int  # width D
    head_dim: int  # heads = D // head_dim, each D // heads wide (upstream; not head_dim when
    #                D is not a multiple of it)
    mlp_ratio: float = 4.0  # MLP hidden width int(D * mlp_ratio) (x 2/3 when gated)
    qkv_bias: bool = False
    proj_bias: bool = False
    mlp_bias: bool = False
    gated_mlp: bool = True  # SwiGLU instead of fc2(silu(fc1 x))
    qk_norm: bool = True  # LayerNorm on queries and keys
    adaln_expansion: int = 0  # 0: plain pre-norm block; E > 0: adaLN-Zero, E modulations

    def __post_init__(self):
        if self.dim < self.head_dim:
            raise ValueError(
                f"transformer width {self.dim} is smaller than head_dim {self.head_dim}"
            )

    @property
    def num_heads(self) -> int:
        return self.dim // self.head_dim


class Block(nn.Module):
    """Pre-norm transformer block (norms without affine). With `adaln_expansion` > 0 it is an
    adaLN-Zero block (DiT) whose modulation comes from a conditioning vector per sample and
    per sub-sequence (patches / registers)."""

    def __init__(self, spec: BlockSpec):
        super().__init__()
        D = spec.dim
        self.attn = Attention(
            D,
            spec.num_heads,
            qkv_bias=spec.qkv_bias,
            proj_bias=spec.proj_bias,
            qk_norm=spec.qk_norm,
        )
        mlp_cls = GatedMlp if spec.gated_mlp else Mlp
        self.mlp = mlp_cls(D, int(D * spec.mlp_ratio), bias=spec.mlp_bias)
        self.adaln_expansion = spec.adaln_expansion
        if spec.adaln_expansion:  # cond (B, D) -> (B, E*6D)
            self.adaLN_modulation = nn.Sequential(
                nn.SiLU(), Linear(D, spec.adaln_expansion * 6 * D, bias=True)
            )

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, mod: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (B, S, D); mask (S, S) bool or None; mod (B, L, 6D): adaLN modulation of each of the
        L positions of a latent frame (S = t * L), shared by all frames (adaLN blocks only)."""
        if mod is None:
            x = x + self.attn(layer_norm_fp32(x), mask)
            return x + self.mlp(layer_norm_fp32(x))
        B, S, D = x.shape
        L = mod.shape[1]

        def frames(y: torch.Tensor) -> torch.Tensor:
            return y.view(B, S // L, L, D)  # (B, t, L, D)

        # Upstream's chunk order is gate-first, unlike DiT's shift-first. Each modulation is
        # (B, 1, L, D): one vector per position in a latent frame, broadcast over the t frames.
        chunks = (m.unsqueeze(1) for m in mod.chunk(6, dim=-1))  # 6 x (B, 1, L, D)
        gate_msa, gate_mlp, shift_msa, scale_msa, shift_mlp, scale_mlp = chunks
        h = modulate(frames(layer_norm_fp32(x)), shift_msa, scale_msa).view(B, S, D)  # (B, S, D)
        x = x + (gate_msa * frames(self.attn(h, mask))).view(B, S, D)  # (B, t, L, D) -> (B, S, D)
        h = modulate(frames(layer_norm_fp32(x)), shift_mlp, scale_mlp).view(B, S, D)
        return x + (gate_mlp * frames(self.mlp(h))).view(B, S, D)  # (B, S, D)


class Transformer(nn.Module):
    """`depth` identical `Block`s. Port of `FlexTransformer` (inference)."""

    def __init__(self, block: BlockSpec, depth: int):
        super().__init__()
        self.adaln_expansion = block.adaln_expansion
        self.blocks = nn.ModuleList(Block(block) for _ in range(depth))

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        cond: torch.Tensor | None = None,
        stream_index: torch.Tensor | None = None,
        keep_layers: tuple[int, ...] = (),
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x (B, L, D) -> (B, L, D), plus the residual stream after each block in `keep_layers`.

        adaLN: cond (B, D) is the time embedding; each block maps it to (B, E*6D), i.e. one 6D
        modulation per sub-sequence (E = adaLN expansion: patches, registers), and position l of
        every latent frame uses the one of sub-sequence `stream_index[l]` (L,). The modulation is
        gathered per frame position (B, L, 6D) and broadcast over frames, never per token.
        """
        kept = []
        for i, block in enumerate(self.blocks):
            mod = None
            if self.adaln_expansion:
                m = block.adaLN_modulation(cond)  # (B, E*6D)
                m = m.view(m.shape[0], self.adaln_expansion, -1)  # (B, E, 6D)
                mod = m[:, stream_index]  # (B, L, 6D)
            x = block(x, mask, mod)
            if i in keep_layers:
                kept.append(x)
        return x, kept


# ----------------------------------------------------------------------------------------------
# Embeddings
# ----------------------------------------------------------------------------------------------


class TimestepEmbedder(nn.Module):
    """Scalar flow time tau (B,) -> (B, D): sinusoidal features then an MLP (DiT).

    Frequencies f_k = (1000 / max_timestep) * exp(-ln(256) k / (F/2)); features [cos, sin].
    """

    def __init__(self, dim: int, frequency_embedding_size: int = 256, max_timestep: float = 1.0):
        super().__init__()
        self.frequency_embedding_size = frequency_embedding_size
        self.max_timestep = max_timestep
        self.mlp = nn.Sequential(Linear(frequency_embedding_size, dim), nn.SiLU(), Linear(dim, dim))

    def features(self, t: torch.Tensor) -> torch.Tensor:
        """(B,) -> (B, F) float32 (float64 in a float64 model)."""
        # (meta tensors carry no values: flops.py counts FLOPs on them)
        if not t.is_meta and bool((t > self.max_timestep).any()):
            raise ValueError(f"flow time must be <= max_timestep={self.max_timestep}")
        dtype = at_least_fp32(self.mlp[0].weight.dtype)
        half = self.frequency_embedding_size // 2
        k = torch.arange(half, dtype=dtype)
        freqs = (1000.0 / self.max_timestep) * torch.exp(-math.log(256) * k / half)
        args = t[:, None].to(dtype) * freqs.to(t.device)[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if self.frequency_embedding_size % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(t))


def sincos_table_2d(h: int, w: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Fixed 2-D sin-cos table (1, D, h, w) laid out exactly as the released checkpoints store it
    (MoCo-v3 style; for non-square tables the (row, col) <-> frequency mapping is scrambled the
    same way: entry (a, b) encodes g1, g2 = divmod(a*w + b, h))."""
    if dim % 4:
        raise ValueError(f"sincos positional embeddings need a width divisible by 4, got {dim}")
    q = dim // 4
    omega = 1.0 / temperature ** (torch.arange(q, dtype=torch.float32) / q)
    flat = torch.arange(h * w)
    g1, g2 = (flat // h).float(), (flat % h).float()
    a, b = g1[:, None] * omega[None], g2[:, None] * omega[None]
    table = torch.cat([a.sin(), a.cos(), b.sin(), b.cos()], dim=1)  # (h*w, D)
    return table.T.reshape(1, dim, h, w)


class PositionalEmbedding(nn.Module):
    """Adds a positional embedding to (B, s_1, ..., s_n, D). Port of `PositionalEmbeddingAdder`.

    learnable_sum / learnable_prod: `posembs` (n, 1, D, M), PE[i, j, ...] = P0[i] (+|*) P1[j] ...
    sincos: fixed 2-D table `posembs` (1, D, h, w). Scaling "absolute" crops the table to the input
    size, "interpolate" resizes it bilinearly (2-D only).
    """

    def __init__(self, dim: int, max_sizes: list[int], kind: str, scaling: str = "absolute"):
        super().__init__()
        self.kind, self.scaling, self.n = kind, scaling, len(max_sizes)
        if kind in ("learnable_sum", "learnable_prod"):
            if len(set(max_sizes)) != 1:
                raise ValueError(f"learnable posembs need equal max_sizes, got {max_sizes}")
            self.posembs = nn.Parameter(torch.zeros(self.n, 1, dim, max_sizes[0]))
            nn.init.trunc_normal_(self.posembs, std=0.02)
        elif kind == "sincos":
            if self.n != 2:
                raise ValueError("sincos positional embeddings are 2-D only")
            self.posembs = nn.Parameter(sincos_table_2d(*max_sizes, dim), requires_grad=False)
        else:
            raise ValueError(f"unknown posemb_type {kind!r}")

    def table(self, sizes: tuple[int, ...]) -> torch.Tensor:
        """Positional embedding for input sizes (s_1..s_n) -> (s_1, ..., s_n, D)."""
        if len(sizes) != self.n:
            raise ValueError(f"{self.n}-D positional embedding applied to a {len(sizes)}-D input")
        if self.kind == "sincos":
            limits = tuple(self.posembs.shape[2:])  # (h, w)
        else:
            limits = (self.posembs.shape[3],) * self.n  # (M, ..., M)
        if self.scaling == "absolute":
            if any(s > m for s, m in zip(sizes, limits)):
                raise ValueError(f"input size {tuple(sizes)} exceeds the positional table {limits}")
            if self.kind == "sincos":
                return self.posembs[0, :, : sizes[0], : sizes[1]].movedim(0, -1)  # (s_1, s_2, D)
            # Crop each axis before combining them: the same sums / products as combining the
            # whole (M, ..., M, D) table and cropping it, without building it.
            return self._combine([self.posembs[i, 0, :, :s].T for i, s in enumerate(sizes)])
        if self.n != 2:
            raise ValueError("interpolated positional embeddings are 2-D only")
        pe = self.posembs  # (1, D, h, w) sincos
        if self.kind != "sincos":
            pe = self._combine([p[0].T for p in self.posembs]).movedim(-1, 0)[None]  # (1, D, M, M)
        pe = F.interpolate(pe, list(sizes), mode="bilinear", align_corners=True)
        return pe[0].movedim(0, -1)  # (s_1, s_2, D)

    def _combine(self, axes: list[torch.Tensor]) -> torch.Tensor:
        """n x (s_i, D) -> (s_1, ..., s_n, D): P0[i] (+|*) P1[j] (+|*) ..., the last two axes
        first (as upstream's 3-D table is built)."""
        op = torch.mul if self.kind == "learnable_prod" else torch.add
        if len(axes) == 1:
            return axes[0]
        if len(axes) == 2:
            return op(axes[0][:, None], axes[1][None])  # (s_1, s_2, D)
        if len(axes) == 3:
            hw = op(axes[1][:, None], axes[2][None])  # (s_2, s_3, D)
            return op(hw[None], axes[0][:, None, None])  # (s_1, s_2, s_3, D)
        raise ValueError("learnable positional embeddings support 1 to 3 dimensions")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table(tuple(x.shape[1:-1]))
