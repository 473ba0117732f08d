"""The resampler's transformer under bf16 autocast, written out: the same math as `Transformer`
(layers.py) under `torch.autocast(..., torch.bfloat16)`, with fewer passes over the tokens.

Autocast casts every Linear input separately (wq, wk and wv each cast the same normed tokens; fc1
and fc3 too), runs the QK-norm islands through two more casts, and launches one kernel per
Linear. Here each block uses its bf16 weights prepared once (`Bf16Blocks`), wq|wk concatenated
into one matrix (its output is contiguous, so the QK-norm needs no copy). Per block:

    residual stream x (B, S, D)  float32 throughout
    LayerNorm, adaLN modulate    float32 (the island), modulate as one addcmul; -> bf16 once
    [q|k] = h Wqk^T, v = h Wv^T  bf16 matmuls; -> float32 once
    QK-norm                      float32, queries and keys in one call
    attention                    float32 on a CPU (faster than bf16 SDPA on the CPUs measured,
                                 see README), bf16 elsewhere; one call per latent frame of
                                 queries over the keys it may see (`query_blocks`)
    proj, gated residual add     bf16 matmul; x + gate * y in float32 (one addcmul)
    MLP                          fc2(silu(fc1 h) * fc3 h), bf16

The adaLN modulation (B, E*6D) is computed in float32: one row per sample, negligible.
Used by `Trunk` (resampler.py) whenever its transformer runs under bf16 autocast; float32 runs
never come here, so their outputs are untouched.

Legend: B batch, S tokens, L tokens per latent frame, D width, nh heads, hd head width.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .layers import Block, GatedMlp, Transformer, layer_norm_fp32


def runs_bf16(x: torch.Tensor) -> bool:
    """Whether this path runs: bf16 autocast is on for x's device type (never for "meta", which
    has none) and autograd is off. Its weights are bf16 copies made outside autograd, so with
    gradients on (training under autocast) the plain modules run instead, under autocast."""
    kind = x.device.type
    if not torch.amp.is_autocast_available(kind) or torch.is_grad_enabled():
        return False
    return torch.is_autocast_enabled(kind) and torch.get_autocast_dtype(kind) == torch.bfloat16


@dataclass(frozen=True)
class _BlockWeights:
    """One block's bf16 weights: wqk (2D, D), wv (D, D), proj (D, D), fc1 / fc3 (H, D) (fc3 None
    without a gated MLP), fc2 (D, H); biases or None. adaLN blocks: the modulation's float32
    weight (E*6D, D) and bias."""

    wqk: torch.Tensor
    bqk: torch.Tensor | None
    wv: torch.Tensor
    bv: torch.Tensor | None
    proj: torch.Tensor
    bproj: torch.Tensor | None
    fc1: torch.Tensor
    bfc1: torch.Tensor | None
    fc3: torch.Tensor | None
    bfc3: torch.Tensor | None
    fc2: torch.Tensor
    bfc2: torch.Tensor | None
    ada: torch.Tensor | None
    bada: torch.Tensor | None


def _bf16(*tensors) -> torch.Tensor | None:
    """Concatenated (dim 0) bf16 copy of tensors, None if any is None."""
    if any(t is None for t in tensors):
        return None
    return torch.cat([t.detach() for t in tensors]).to(torch.bfloat16)


def _block_weights(block: Block) -> _BlockWeights:
    a, mlp = block.attn, block.mlp
    fc3 = mlp.fc3 if isinstance(mlp, GatedMlp) else None
    ada = block.adaLN_modulation[1] if block.adaln_expansion else None
    return _BlockWeights(
        _bf16(a.wq.weight, a.wk.weight),
        _bf16(a.wq.bias, a.wk.bias),
        _bf16(a.wv.weight),
        _bf16(a.wv.bias),
        _bf16(a.proj.weight),
        _bf16(a.proj.bias),
        _bf16(mlp.fc1.weight),
        _bf16(mlp.fc1.bias),
        None if fc3 is None else _bf16(fc3.weight),
        None if fc3 is None else _bf16(fc3.bias),
        _bf16(mlp.fc2.weight),
        _bf16(mlp.fc2.bias),
        None if ada is None else ada.weight.detach().float(),
        None if ada is None else ada.bias.detach().float(),
    )


class Bf16Blocks:
    """The bf16 weights of a `Transformer`'s blocks, made on first use and made again when any
    of its parameters changes (new storage, in-place update, dtype or device)."""

    def __init__(self):
        self._key = None
        self._weights: list[_BlockWeights] = []

    @staticmethod
    def _version(transformer: Transformer) -> tuple:
        return tuple(
            (p.data_ptr(), p._version, p.dtype, p.device) for p in transformer.parameters()
        )

    def get(self, transformer: Transformer) -> list[_BlockWeights]:
        key = (id(transformer), self._version(transformer))
        if key != self._key:
            self._weights = [_block_weights(b) for b in transformer.blocks]
            self._key = key
        return self._weights


@dataclass(frozen=True)
class QueryBlock:
    """Queries [start, stop) attend keys [0, keys) under `mask` ((stop-start, keys) bool, or
    None where all of them may be attended)."""

    start: int
    stop: int
    keys: int
    mask: torch.Tensor | None


def query_blocks(mask: torch.Tensor | None, block: int) -> tuple[QueryBlock, ...]:
    """A (S, S) attention mask cut into query blocks of `block` rows (a latent frame), each
    with the shortest key prefix that holds all its allowed keys: under a time-causal mask,
    frame f reads frames 0..f only, so most blocks need no mask and half the work goes."""
    if mask is None:
        return (QueryBlock(0, 0, 0, None),)  # (0, 0): all queries, all keys, no mask
    S = mask.shape[0]
    blocks = []
    for start in range(0, S, block):
        rows = mask[start : start + block]
        allowed = rows.any(dim=0).nonzero()
        keys = int(allowed.max()) + 1 if len(allowed) else S
        sub = rows[:, :keys]
        blocks.append(QueryBlock(start, start + len(rows), keys, None if sub.all() else sub))
    return tuple(blocks)


def _sdpa(q, k, v, blocks: tuple[QueryBlock, ...], scale: float) -> torch.Tensor:
    """q, k, v (B, nh, S, hd) -> (B, nh, S, hd), one SDPA call per query block."""
    if len(blocks) == 1 and blocks[0].stop == 0:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    outs = [
        F.scaled_dot_product_attention(
            q[:, :, b.start : b.stop],
            k[:, :, : b.keys],
            v[:, :, : b.keys],
            attn_mask=b.mask,
            scale=scale,
        )
        for b in blocks
    ]
    return torch.cat(outs, dim=2)


def _attention(block: Block, w: _BlockWeights, h: torch.Tensor, blocks) -> torch.Tensor:
    """h (B, S, D) bf16 -> attention output (B, S, D) bf16 (before the gate)."""
    a = block.attn
    B, S, D = h.shape
    qk = F.linear(h, w.wqk, w.bqk).float().view(B, S, 2, a.num_heads, a.head_dim)
    v = F.linear(h, w.wv, w.bv).float().view(B, S, a.num_heads, a.head_dim)  # float32
    if a.qk_norm:  # the float32 island, queries and keys in one call (contiguous: no copy)
        qk = layer_norm_fp32(qk)
    dtype = torch.float32 if h.device.type == "cpu" else torch.bfloat16  # see the module doc
    q, k = qk.to(dtype).permute(2, 0, 3, 1, 4).unbind(0)  # 2 x (B, nh, S, hd)
    y = _sdpa(q, k, v.to(dtype).transpose(1, 2), blocks, a.scale)  # (B, nh, S, hd)
    y = y.transpose(1, 2).reshape(B, S, D).to(torch.bfloat16)  # (B, S, D)
    return F.linear(y, w.proj, w.bproj)


def _mlp(block: Block, w: _BlockWeights, h: torch.Tensor) -> torch.Tensor:
    """h (B, S, D) bf16 -> MLP output (B, S, D) bf16."""
    up = F.silu(F.linear(h, w.fc1, w.bfc1))
    if w.fc3 is not None:  # SwiGLU; two matmuls: contiguous halves, 2x faster elementwise
        up = up.mul_(F.linear(h, w.fc3, w.bfc3))
    return F.linear(up, w.fc2, w.bfc2)


def _adaln_block(block: Block, w: _BlockWeights, x, blocks, mod: torch.Tensor) -> torch.Tensor:
    """One adaLN-Zero block: x (B, S, D) float32, mod (B, L, 6D) float32 -> (B, S, D) float32."""
    B, S, D = x.shape
    L = mod.shape[1]
    shape = (B, S // L, L, D)  # (B, t, L, D): modulations broadcast over the t latent frames
    # gate-first chunk order as in `Block`; each (B, 1, L, D)
    chunks = (c.unsqueeze(1) for c in mod.chunk(6, dim=-1))
    gate_msa, gate_mlp, shift_msa, scale_msa, shift_mlp, scale_mlp = chunks
    h = torch.addcmul(shift_msa, layer_norm_fp32(x).view(shape), 1 + scale_msa)
    y = _attention(block, w, h.view(B, S, D).to(torch.bfloat16), blocks)
    x = torch.addcmul(x.view(shape), gate_msa, y.view(shape).float()).view(B, S, D)
    h = torch.addcmul(shift_mlp, layer_norm_fp32(x).view(shape), 1 + scale_mlp)
    y = _mlp(block, w, h.view(B, S, D).to(torch.bfloat16))
    return torch.addcmul(x.view(shape), gate_mlp, y.view(shape).float()).view(B, S, D)


def transformer_bf16(
    transformer: Transformer,
    weights: Bf16Blocks,
    x: torch.Tensor,
    blocks: tuple[QueryBlock, ...],
    cond: torch.Tensor | None = None,
    stream_index: torch.Tensor | None = None,
    keep_layers: tuple[int, ...] = (),
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """`transformer(x, mask, cond, stream_index, keep_layers)` in bf16 (see the module doc), the
    mask given as `query_blocks(mask, L)`: x (B, S, D) -> (B, S, D) float32, plus the residual
    stream after each kept block."""
    x = x.float()
    kept = []
    with torch.autocast(x.device.type, enabled=False):
        for i, (block, w) in enumerate(zip(transformer.blocks, weights.get(transformer))):
            if transformer.adaln_expansion:
                m = F.linear(F.silu(cond.float()), w.ada, w.bada)  # (B, E*6D) float32
                m = m.view(m.shape[0], transformer.adaln_expansion, -1)  # (B, E, 6D)
                x = _adaln_block(block, w, x, blocks, m[:, stream_index])  # mod (B, L, 6D)
            else:
                x = x + _attention(block, w, layer_norm_fp32(x).to(torch.bfloat16), blocks)
                x = x + _mlp(block, w, layer_norm_fp32(x).to(torch.bfloat16))
            if i in keep_layers:
                kept.append(x)
    return x, kept
