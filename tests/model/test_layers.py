"""Building blocks: attention masks, positional tables, FSQ, chunking, the sampler."""

import math

import pytest
import torch

from videoflextok_core.model.config import PackerSpec
from videoflextok_core.model.fsq import FSQ
from videoflextok_core.model.layers import PositionalEmbedding, TimestepEmbedder, sincos_table_2d
from videoflextok_core.model.resampler import attention_mask, patchify, unpatchify
from videoflextok_core.model.sampling import MomentumBuffer, Sampler, apg, sample

# ----------------------------------------------------------------------------------------------
# Masks: compare with a rule-by-rule reading of the reference notes beside this repository
# (../shared/reference/ARCHITECTURE.md §9.2), pair by pair
# ----------------------------------------------------------------------------------------------


def rule(mode, q, k, L, prefix, cross=None):
    fq, fk, pq, pk = q // L, k // L, q % L, k % L
    if mode == "full":
        return True
    if mode == "causal":
        return k <= q
    if mode == "time_block_causal":
        return fk <= fq
    same = fk == fq and (pk <= pq or pk < prefix)
    if mode == "time_block_causal_last":
        return fk < fq or same
    qp, kp = pq < prefix, pk < prefix
    if fk < fq:
        c = cross
        if qp and kp:
            return c["prefix2prefix"] == "full"
        if qp and not kp:
            return c["prefix2nonprefix"] == "full"
        if not qp and kp:
            return c["nonprefix2prefix"] == "full"
        n2n = c["nonprefix2nonprefix"]
        return n2n == "full" or (n2n == "causal" and pk - prefix <= pq - prefix)
    return same


CROSS = [
    {
        "prefix2prefix": "full",
        "prefix2nonprefix": "none",
        "nonprefix2prefix": "full",
        "nonprefix2nonprefix": "causal",
    },
    {
        "prefix2prefix": "none",
        "prefix2nonprefix": "full",
        "nonprefix2prefix": "none",
        "nonprefix2nonprefix": "none",
    },
]


@pytest.mark.parametrize(
    "mode, cross",
    [
        ("full", None),
        ("causal", None),
        ("time_block_causal", None),
        ("time_block_causal_last", None),
        ("flexible_time_block_causal_last", CROSS[0]),
        ("flexible_time_block_causal_last", CROSS[1]),
    ],
)
def test_masks_follow_the_rules(mode, cross):
    sizes, t = (4, 3), 3  # 4 patches, 3 registers per frame
    L, prefix = 7, 4
    spec = PackerSpec(
        ("a", "b"),
        "p",
        "m",
        "i",
        "o",
        mask_mode=mode,
        cross_timestep_attention_config=tuple(cross.items()) if cross else None,
    )
    mask = attention_mask(spec, t, sizes, "cpu")
    for q in range(t * L):
        for k in range(t * L):
            assert bool(mask[q, k]) == rule(mode, q, k, L, prefix, cross), (mode, q, k)
        assert mask[q, q]  # every row sees itself: no empty softmax rows


def test_time_causal_masks_make_frames_independent_of_the_future():
    spec = PackerSpec(("a", "b"), "p", "m", "i", "o", mask_mode="time_block_causal_last")
    mask = attention_mask(spec, 5, (6, 16), "cpu")
    L = 22
    for q in range(5 * L):
        assert not mask[q, (q // L + 1) * L :].any()


# ----------------------------------------------------------------------------------------------
# Positional embeddings and time embedding
# ----------------------------------------------------------------------------------------------


def test_sincos_table_matches_the_documented_formula():
    h, w, D = 3, 5, 8
    table = sincos_table_2d(h, w, D)
    q = D // 4
    omega = [1 / 10000 ** (k / q) for k in range(q)]
    for a in range(h):
        for b in range(w):
            g1, g2 = divmod(a * w + b, h)
            want = [math.sin(g1 * o) for o in omega] + [math.cos(g1 * o) for o in omega]
            want += [math.sin(g2 * o) for o in omega] + [math.cos(g2 * o) for o in omega]
            assert torch.allclose(table[0, :, a, b], torch.tensor(want), atol=1e-6)


def test_learnable_posembs_sum_and_prod():
    torch.manual_seed(0)
    for kind in ("learnable_sum", "learnable_prod"):
        pe = PositionalEmbedding(4, [5, 5, 5], kind)
        table = pe.table((2, 3, 4))
        p = pe.posembs[:, 0]  # (3, D, M)
        op = torch.add if kind == "learnable_sum" else torch.mul
        want = op(op(p[0, :, 1], p[1, :, 2]), p[2, :, 3])
        assert torch.allclose(table[1, 2, 3], want, atol=1e-6)
    with pytest.raises(ValueError, match="exceeds"):
        PositionalEmbedding(4, [2, 2], "learnable_sum").table((3, 1))


def test_timestep_embedder_features():
    emb = TimestepEmbedder(8, frequency_embedding_size=7, max_timestep=1.0)
    f = emb.features(torch.tensor([0.5]))
    assert f.shape == (1, 7) and f[0, -1] == 0  # odd size: a zero is appended
    freqs = [1000 * math.exp(-math.log(256) * k / 3) for k in range(3)]
    assert torch.allclose(f[0, :3], torch.tensor([math.cos(0.5 * x) for x in freqs]), atol=1e-5)
    with pytest.raises(ValueError):
        emb.features(torch.tensor([1.5]))


def test_patchify_round_trip():
    x = torch.randn(2, 5, 4, 6, 3)
    p = patchify(x, (1, 2, 3))
    assert p.shape == (2, 5, 2, 2, 18)
    assert torch.equal(p[0, 0, 0, 0, :3], x[0, 0, 0, 0])  # channel fastest inside a patch
    assert torch.equal(unpatchify(p, (1, 2, 3)), x)


# ----------------------------------------------------------------------------------------------
# FSQ
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [[8, 8, 8, 5, 5, 5], [8, 5, 5, 5], [7, 5, 5, 5, 5], [4, 4, 4]])
def test_fsq_round_trip(levels):
    fsq = FSQ(levels)
    ids = torch.arange(fsq.codebook_size)
    codes = fsq.ids_to_codes(ids)
    assert torch.equal(fsq.codes_to_ids(codes), ids)
    assert codes.min() >= -1 and codes.max() <= 1
    z = torch.randn(10, 7, len(levels)) * 3
    q, i = fsq(z)
    assert torch.equal(fsq.ids_to_codes(i), q)
    assert i.dtype == torch.int64 and int(i.max()) < fsq.codebook_size


def test_fsq_digits_channel_zero_is_least_significant():
    fsq = FSQ([8, 5])
    codes = fsq.ids_to_codes(torch.tensor([1, 8]))
    assert codes[0].tolist() == [-3 / 4, -1.0] and codes[1].tolist() == [-1.0, -1 / 2]


# ----------------------------------------------------------------------------------------------
# Sampler
# ----------------------------------------------------------------------------------------------


def test_euler_steps_on_a_known_velocity():
    """v = noise - data for a fixed data point: Euler from noise lands exactly on the data."""
    data = torch.randn(2, 3, 1, 2, 2)
    noise = torch.randn(2, 3, 1, 2, 2)

    def model_fn(x, tau, with_uncond):
        return noise - data, None

    out = sample(model_fn, noise, Sampler(steps=7))
    assert torch.allclose(out, data, atol=1e-5)


def test_apg_reduces_to_cfg_parts():
    torch.manual_seed(0)
    vc, vu = torch.randn(1, 2, 2, 3, 3), torch.randn(1, 2, 2, 3, 3)
    out = apg(vc, vu, 3.0, None, eta=1.0, norm_threshold=0.0)
    assert torch.allclose(out, vc + 2.0 * (vc - vu), atol=1e-5)  # eta 1: no projection
    out = apg(vc, vu, 3.0, None, eta=0.0, norm_threshold=0.0)
    d = vc - vu
    par = (d * vc).sum(dim=(2, 3, 4), keepdim=True) / (vc * vc).sum(dim=(2, 3, 4), keepdim=True)
    assert torch.allclose(out, vc + 2.0 * (d - par * vc), atol=1e-5)


def test_momentum_buffer_is_shared_across_the_batch_like_upstream():
    buf = MomentumBuffer(0.5)
    a, b = torch.ones(1), 2 * torch.ones(1)
    assert buf.update(a).item() == 1.0
    assert buf.update(b).item() == 2.5  # second sample sees the first one's running average


def test_clean_conditioning_is_pinned():
    cond = torch.randn(1, 2, 1, 2, 2)

    def model_fn(x, tau, with_uncond):
        assert torch.equal(x[:, :, :1], cond)
        return torch.ones_like(x), None

    out = sample(model_fn, torch.randn(1, 2, 3, 2, 2), Sampler(steps=4), cond_latents=cond)
    assert torch.equal(out[:, :, :1], cond)
