"""The explicit bf16 transformer path (model/bf16.py) against the `Transformer` it replaces under
bf16 autocast: the attention cut into query blocks equals the masked attention, the path is
as close to float32 as autocast is, its bf16 weights follow the parameters, and the trunks use
it exactly when bf16 autocast is on.

Bounds hold on AMD and Intel CPUs: each is several times the difference measured here.
"""

import pytest
import torch
import torch.nn.functional as F

from videoflextok_core.model.bf16 import Bf16Blocks, query_blocks, runs_bf16, transformer_bf16
from videoflextok_core.model.resampler import _mask_cpu

pytestmark = pytest.mark.usefixtures("one_thread")

MODES = ("full", "causal", "time_block_causal", "time_block_causal_last")


@pytest.mark.parametrize("mode", MODES)
def test_query_blocks_give_the_masked_attention(mode):
    t, sizes = 4, (6, 3)  # 4 latent frames of 6 patches + 3 registers
    mask = _mask_cpu(mode, t, sizes, None)  # (36, 36)
    blocks = query_blocks(mask, sum(sizes))
    assert [b.start for b in blocks] == [0, 9, 18, 27]
    if mode == "time_block_causal":  # frame f sees frames 0..f whole: no mask, f+1 frames
        assert [(b.keys, b.mask) for b in blocks] == [(9 * (f + 1), None) for f in range(4)]
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 36, 8, generator=g) for _ in range(3))
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3)
    outs = []
    for b in blocks:
        sub = q[:, :, b.start : b.stop], k[:, :, : b.keys], v[:, :, : b.keys]
        outs.append(F.scaled_dot_product_attention(*sub, attn_mask=b.mask, scale=0.3))
    assert (torch.cat(outs, dim=2) - want).abs().max() < 1e-5  # measured 4e-7


def _inputs(trunk, t: int, sizes: tuple[int, ...], batch: int = 2):
    """Random tokens (B, t*L, D), mask, time embedding (B, D), stream index for one trunk."""
    g = torch.Generator().manual_seed(1)
    D = trunk.transformer.blocks[0].attn.wq.in_features
    x = torch.randn(batch, t * sum(sizes), D, generator=g)
    cond = torch.randn(batch, D, generator=g) if trunk.transformer.adaln_expansion else None
    mask = _mask_cpu(trunk.packer.mask_mode, t, sizes, trunk.packer.cross_timestep_attention_config)
    return x, mask, cond, trunk._stream_index(sizes, "cpu")


@pytest.mark.parametrize("name", ["encoder", "decoder"])  # plain blocks, adaLN blocks
def test_as_close_to_float32_as_autocast(demo_model, name):
    trunk = getattr(demo_model, name)
    x, mask, cond, index = _inputs(trunk, t=3, sizes=(64, 16))
    with torch.no_grad():
        want, _ = trunk.transformer(x, mask, cond, index)  # float32
        with torch.autocast("cpu", torch.bfloat16):
            auto, _ = trunk.transformer(x, mask, cond, index)
            ours, kept = transformer_bf16(
                trunk.transformer, Bf16Blocks(), x, query_blocks(mask, 80), cond, index, (1,)
            )
    assert ours.dtype == torch.float32 and len(kept) == 1

    def rel(y):
        return ((y.float() - want).norm() / want.norm()).item()

    # measured: encoder 2.5e-3 (autocast 2.6e-3), decoder 1.7e-3 (autocast 2.4e-3)
    assert rel(ours) < 1e-2
    assert rel(ours) < 2 * rel(auto)


def test_bf16_weights_follow_the_parameters(tiny_model):
    trunk = tiny_model.decoder
    weights = Bf16Blocks()
    first = weights.get(trunk.transformer)
    assert weights.get(trunk.transformer) is first  # made once
    wq = trunk.transformer.blocks[0].attn.wq.weight
    D = wq.shape[0]
    assert first[0].wqk.dtype == torch.bfloat16
    assert torch.equal(first[0].wqk[:D], wq.detach().bfloat16())
    saved = wq.detach().clone()
    try:
        with torch.no_grad():
            wq.mul_(2.0)  # an in-place update (load_state_dict copies in place too)
        again = weights.get(trunk.transformer)
        assert torch.equal(again[0].wqk[:D], wq.detach().bfloat16())
    finally:
        with torch.no_grad():
            wq.copy_(saved)


def test_trunks_take_the_path_only_under_bf16_autocast_without_autograd():
    x = torch.zeros(2)
    assert not runs_bf16(x)
    with torch.no_grad():
        with torch.autocast("cpu", torch.bfloat16):
            assert runs_bf16(x)
        with torch.autocast("cpu", torch.float16):
            assert not runs_bf16(x)
        assert not runs_bf16(torch.zeros(2, device="meta"))  # FLOP counts run on meta tensors
    with torch.autocast("cpu", torch.bfloat16):
        assert not runs_bf16(x)  # training under autocast: the modules themselves


def test_training_under_bf16_autocast_reaches_every_transformer_weight(demo_model):
    """The path's bf16 weights are copies outside autograd: with gradients on, the trunks must
    run their own modules, or a training step would never update the transformers."""
    m = demo_model
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 16, 5, 8, 8, generator=g)
    try:
        with torch.autocast("cpu", torch.bfloat16):
            codes = m.fsq.quantize_ste(m.encoder(z).float())
            keep, prefix = torch.tensor([4, 64]), torch.tensor([0, 1])
            v = m.decoder(codes, z, torch.rand(2, generator=g), keep, prefix, torch.zeros(2) > 0)
        v.float().pow(2).mean().backward()
        for trunk in (m.encoder, m.decoder):
            grads = [p.grad for p in trunk.transformer.parameters()]
            assert all(gr is not None and gr.abs().sum() > 0 for gr in grads)
    finally:
        m.zero_grad(set_to_none=True)
