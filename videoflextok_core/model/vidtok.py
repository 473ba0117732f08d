"""VidTok causal 3D VAE (Tang et al., 2024, arXiv 2412.13061): 4x8x8 compression, 16 channels.

The VideoFlexTok checkpoints embed the VidTok "kl_causal_488_16chn" autoencoder, whose architecture
is fixed by a yaml file in the official package (ch=128, ch_mult=(1,2,4,4), 2 res blocks, layer
norm). `VidTokSpec` holds those numbers; our small fixtures override some of them.

Causality: every temporal convolution pads only at the start, so latent frame f depends only on
input frames <= 4f (after 3 replicated copies of frame 0 are prepended to a 17-frame chunk).

Legend: B batch, C channels, T frames, H/W pixels, t latent frames, h/w latent grid.
Module and parameter names follow the checkpoint (`down.0.block.1.norm1.norm.weight`, ...).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import at_least_fp32

# ----------------------------------------------------------------------------------------------
# Spec
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VidTokSpec:
    ch: int = 128  # base width; level i has ch * ch_mult[i] channels
    ch_mult: tuple[int, ...] = (1, 2, 4, 4)  # 4 levels: 3 spatial and 2 temporal halvings
    num_res_blocks: int = 2  # encoder blocks per level (the decoder has one more)
    z_channels: int = 16  # latent channels (the encoder outputs 2x: mean and log-variance)
    in_channels: int = 3
    out_ch: int = 3
    norm_type: str = "layernorm"  # "layernorm" (released) or "groupnorm" (32 groups)
    init_pad_mode: str = "replicate"  # how the 3 leading frames are padded before encoding
    time_downsample_factor: int = 4
    spatial_downsample_factor: int = 8


def nonlinearity(x: torch.Tensor) -> torch.Tensor:
    """SiLU of a norm's output (a temporary: overwritten in place when autograd is off). Upstream
    writes x * sigmoid(x); F.silu is the same function in one pass."""
    return F.silu(x, inplace=not torch.is_grad_enabled())


def residual(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """x + h, where h is a conv's fresh output (which autograd never keeps): added in place
    unless x's dtype is wider (under autocast), whose promotion the sum must keep."""
    if torch.promote_types(x.dtype, h.dtype) != h.dtype:
        return x + h
    return h.add_(x)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) stored channels-last (no copy if it already is). Every 5-D activation is
    kept so: the norms over channels and the per-frame 2-D blocks then read it without copies,
    and oneDNN's convolutions run on it directly."""
    return x.contiguous(memory_format=torch.channels_last_3d)


def frames_to_batch(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B*T, C, H, W); a view of a channels-last x."""
    B, C, T, H, W = x.shape
    return x.transpose(1, 2).reshape(B * T, C, H, W)


def batch_to_frames(x: torch.Tensor, B: int) -> torch.Tensor:
    """(B*T, C, H, W) -> (B, C, T, H, W); a view of a channels-last x."""
    BT, C, H, W = x.shape
    return x.reshape(B, BT // B, C, H, W).transpose(1, 2)


def upsample_taps(w: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A 3-tap kernel (taps along `dim`) applied after nearest x2 upsampling, as two 2-tap
    kernels on the input before it: [w0, w1 + w2] and [w0 + w1, w2]. An upsampled sequence u
    (u[2i] = u[2i+1] = x[i]) under taps (w0, w1, w2) at u[j-1], u[j], u[j+1] gives
    w0 x[i-1] + (w1 + w2) x[i] at j = 2i and (w0 + w1) x[i] + w2 x[i+1] at j = 2i + 1: the same
    sums with 2 products instead of 3 (the sub-pixel view of upsample + conv, Shi et al. 2016)."""
    w0, w1, w2 = w.unbind(dim)
    return torch.stack([w0, w1 + w2], dim), torch.stack([w0 + w1, w2], dim)


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis (dim 1) of a (N, C, ...) tensor, at every position."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # fp32 like upstream: CUDA autocast runs layer_norm in float32, CPU autocast would not
        n, dtype = self.norm, at_least_fp32(x.dtype)
        y = x.movedim(1, -1).to(dtype)
        y = F.layer_norm(y, n.normalized_shape, n.weight.to(dtype), n.bias.to(dtype), n.eps)
        return y.movedim(-1, 1)


class GroupNorm32(nn.GroupNorm):
    """nn.GroupNorm computed in float32 (or wider) under autocast on any device."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = at_least_fp32(x.dtype)  # fp32 like upstream
        weight, bias = self.weight.to(dtype), self.bias.to(dtype)
        return F.group_norm(x.to(dtype), self.num_groups, weight, bias, self.eps)


def make_norm(channels: int, norm_type: str) -> nn.Module:
    if norm_type == "layernorm":
        return ChannelLayerNorm(channels)
    if norm_type == "groupnorm":
        return GroupNorm32(num_groups=32, num_channels=channels, eps=1e-6)
    raise ValueError(f"VidTok norm_type must be 'layernorm' or 'groupnorm', got {norm_type!r}")


def norm_frames(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Normalise (B, C, T, H, W) frame by frame (group norm pools each frame's pixels)."""
    if isinstance(norm, ChannelLayerNorm):
        return norm(x)
    return batch_to_frames(norm(frames_to_batch(x)), x.shape[0])


def norm_positions(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Normalise (B, C, T, H, W) at each (frame, pixel) over channels only (upstream's temporal
    blocks see (B*H*W, C, T) and group norm there must not mix time steps)."""
    if isinstance(norm, ChannelLayerNorm):
        return norm(x)
    y = x.movedim(1, -1)  # (B, T, H, W, C)
    return norm(y.reshape(-1, y.shape[-1], 1)).reshape(y.shape).movedim(-1, 1)


class CausalConv3d(nn.Module):
    """Conv3d padding time with zeros at the start only (k_t - s_t frames), space symmetrically.
    (B, C, T, H, W) channels-last in and out."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride=(1, 1, 1)):
        super().__init__()
        k = kernel_size
        self.time_pad = (k - 1) + (1 - stride[0])
        self.space_pad = (k - 1) // 2  # stride 1 in space everywhere in VidTok, k odd
        self.conv = nn.Conv3d(cin, cout, k, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time_pad:
            x = F.pad(x, (0, 0, 0, 0, self.time_pad, 0))  # (B, C, T + time_pad, H, W)
        c, p = self.conv, self.space_pad
        return channels_last(F.conv3d(x, c.weight, c.bias, c.stride, (0, p, p)))


class CausalConv1d(nn.Module):
    """A causal conv over time (zero padding at the start) at every pixel of (B, C, T, H, W).

    The checkpoint stores it as a Conv1d over (B*H*W, C, T); we run it as a (k, 1) conv2d over
    the channels-last (B, C, T, H*W) view of the video, which needs no copy to or from that
    layout."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3):
        super().__init__()
        self.time_pad = kernel_size - 1
        self.conv = nn.Conv1d(cin, cout, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, H, W = x.shape[-3:]
        weight = self.conv.weight[..., None].contiguous(memory_format=torch.channels_last)
        # Zero padding on both ends inside the conv (no padded copy of x), then the first T
        # outputs: output j sees frames j - k + 1 .. j, the causal window.
        y = F.conv2d(x.flatten(3), weight, self.conv.bias, padding=(self.time_pad, 0))
        return y[:, :, :T].unflatten(3, (H, W))  # (B, C', T, H, W)


class ResBlock2d(nn.Module):
    """Per-frame residual block on (N, C, H, W): two 3x3 convs, pre-norm + SiLU."""

    def __init__(self, cin: int, cout: int, norm_type: str):
        super().__init__()
        self.norm1 = make_norm(cin, norm_type)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = make_norm(cout, norm_type)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nonlinearity(self.norm1(x)))
        h = self.conv2(nonlinearity(self.norm2(h)))
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return residual(x, h)


class ResBlock1d(nn.Module):
    """Per-pixel temporal residual block on (B, C, T, H, W) with causal convs over T (k=3)."""

    def __init__(self, channels: int, norm_type: str):
        super().__init__()
        self.norm1 = make_norm(channels, norm_type)
        self.conv1 = CausalConv1d(channels, channels)
        self.norm2 = make_norm(channels, norm_type)
        self.conv2 = CausalConv1d(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nonlinearity(norm_positions(self.norm1, x)))
        h = self.conv2(nonlinearity(norm_positions(self.norm2, h)))
        return residual(x, h)


class ResBlock3d(nn.Module):
    """Residual block on (B, C, T, H, W) with causal 3x3x3 convs; norms per frame."""

    def __init__(self, channels: int, norm_type: str):
        super().__init__()
        self.norm1 = make_norm(channels, norm_type)
        self.conv1 = CausalConv3d(channels, channels)
        self.norm2 = make_norm(channels, norm_type)
        self.conv2 = CausalConv3d(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nonlinearity(norm_frames(self.norm1, x)))
        h = self.conv2(nonlinearity(norm_frames(self.norm2, h)))
        return residual(x, h)


class FrameAttention(nn.Module):
    """Single-head self-attention within each frame over its H*W positions (scale C^-0.5)."""

    def __init__(self, channels: int, norm_type: str):
        super().__init__()
        self.norm = make_norm(channels, norm_type)
        self.q = CausalConv3d(channels, channels, kernel_size=1)
        self.k = CausalConv3d(channels, channels, kernel_size=1)
        self.v = CausalConv3d(channels, channels, kernel_size=1)
        self.proj_out = CausalConv3d(channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T, H, W = x.shape
        h = norm_frames(self.norm, x)
        q, k, v = (
            m(h).permute(0, 2, 3, 4, 1).reshape(B, T, H * W, C) for m in (self.q, self.k, self.v)
        )
        h = F.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous())
        h = h.reshape(B, T, H, W, C).permute(0, 4, 1, 2, 3)  # (B, C, T, H, W) channels-last
        return residual(x, self.proj_out(h))


class SpatialDownsample(nn.Module):
    """3x3 stride-2 conv on (N, C, H, W) after padding one row/column at the bottom/right."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class SpatialUpsample(nn.Module):
    """Nearest x2 then 3x3 conv on (N, C, H, W) -> (N, C, 2H, 2W), computed as four 2x2 convs
    on the input, one per output phase (`upsample_taps`): 4/9 of the multiply-adds."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, H, W = x.shape
        rows = upsample_taps(self.conv.weight, 2)  # output rows 2a, 2a + 1: (C, C, 2, 3) each
        phases = [t for r in rows for t in upsample_taps(r, 3)]  # (p, q) = 00, 01, 10, 11
        weight = torch.cat(phases).contiguous(memory_format=torch.channels_last)  # (4C, C, 2, 2)
        bias = self.conv.bias.repeat(4)
        # y[:, (2p + q)C + c, a + p, b + q] is output pixel (2a + p, 2b + q), channel c
        y = F.conv2d(x, weight, bias, padding=1).permute(0, 2, 3, 1)  # (N, H + 1, W + 1, 4C)
        out = y.new_empty(N, H, 2, W, 2, C)
        for p in (0, 1):
            for q in (0, 1):
                i = 2 * p + q
                out[:, :, p, :, q] = y[:, p : p + H, q : q + W, i * C : (i + 1) * C]
        return out.view(N, 2 * H, 2 * W, C).permute(0, 3, 1, 2)  # (N, C, 2H, 2W) channels-last


class TimeDownsample(nn.Module):
    """Causal 2x time reduction on (B, C, T, H, W): a learned mix of a 3-frame average and a
    strided causal conv. Frames T -> (T - 2) // 2 + 1. (Open-Sora-Plan's "ResCausal" design.)"""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = CausalConv3d(channels, channels, 3, stride=(2, 1, 1))
        self.mix_factor = nn.Parameter(torch.tensor([2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid(self.mix_factor)
        avg = F.avg_pool3d(F.pad(x, (0, 0, 0, 0, 1, 0)), (3, 1, 1), stride=(2, 1, 1))
        return channels_last(alpha * avg + (1 - alpha) * self.conv(x))


class TimeUpsample(nn.Module):
    """2x time upsampling on (B, C, T, H, W): each frame repeated, mixed with a causal conv of
    the repeated frames, computed as one conv with 2-frame kernels on the T input frames that
    gives the even and odd output frames as 2C channels (`upsample_taps`): 2/3 of the work."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = CausalConv3d(channels, channels, 3)
        self.mix_factor = nn.Parameter(torch.tensor([2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T, H, W = x.shape
        alpha = torch.sigmoid(self.mix_factor)
        conv = self.conv.conv
        # Output frame j sees repeated frames j-2, j-1, j: frames i-1, i-1, i at j = 2i and
        # i-1, i, i at j = 2i + 1, i.e. taps (w0 + w1, w2) and (w0, w1 + w2) on x[i-1], x[i].
        odd, even = upsample_taps(conv.weight, 2)  # (C, C, 2, 3, 3) each
        weight = torch.cat([even, odd]).contiguous(memory_format=torch.channels_last_3d)
        xp = F.pad(x, (0, 0, 0, 0, 1, 0))  # (B, C, T + 1, H, W), x[-1] = 0
        y = F.conv3d(xp, weight, conv.bias.repeat(2), padding=(0, 1, 1))  # (B, 2C, T, H, W)
        y = y.permute(0, 2, 3, 4, 1)  # (B, T, H, W, 2C)
        ax = alpha * x.permute(0, 2, 3, 4, 1)  # (B, T, H, W, C)
        mixed = (1 - alpha) * y
        out = torch.stack([ax + mixed[..., :C], ax + mixed[..., C:]], dim=2)  # (B, T, 2, H, W, C)
        return out.view(B, 2 * T, H, W, C).permute(0, 4, 1, 2, 3)  # (B, C, 2T, H, W)


def spatial_temporal_block(x: torch.Tensor, block_s: nn.Module, block_t: nn.Module) -> torch.Tensor:
    """Apply a per-frame block, then a per-pixel temporal block, to (B, C, T, H, W)."""
    x = batch_to_frames(block_s(frames_to_batch(x)), x.shape[0])
    return block_t(x)


class Level(nn.Module):
    """A container whose attribute names give the checkpoint keys (`block`, `downsample`, ...)."""


# ----------------------------------------------------------------------------------------------
# Encoder / decoder
# ----------------------------------------------------------------------------------------------


class VidTokEncoder(nn.Module):
    """(B, 3, T, H, W) in [-1, 1] -> moments (B, 2*z, t, H/8, W/8). Port of
    `EncoderCausal3DPadding`. T is first padded to a multiple of 4 with copies of frame 0."""

    def __init__(self, spec: VidTokSpec):
        super().__init__()
        self.spec = spec
        n = len(spec.ch_mult)
        self.spatial_down = list(range(n - 1))
        self.temporal_down = [n - 2, n - 3]
        self.conv_in = CausalConv3d(spec.in_channels, spec.ch)
        self.down = nn.ModuleList()
        self.down_temporal = nn.ModuleList()
        cin = spec.ch
        for i, mult in enumerate(spec.ch_mult):
            cout = spec.ch * mult
            down, down_t = Level(), Level()
            down.block = nn.ModuleList()
            down_t.block = nn.ModuleList()
            for _ in range(spec.num_res_blocks):
                down.block.append(ResBlock2d(cin, cout, spec.norm_type))
                down_t.block.append(ResBlock1d(cout, spec.norm_type))
                cin = cout
            if i in self.spatial_down:
                down.downsample = SpatialDownsample(cin)
                if i in self.temporal_down:
                    down_t.downsample = TimeDownsample(cin)
            self.down.append(down)
            self.down_temporal.append(down_t)
        self.mid = Level()
        self.mid.block_1 = ResBlock3d(cin, spec.norm_type)
        self.mid.attn_1 = FrameAttention(cin, spec.norm_type)
        self.mid.block_2 = ResBlock3d(cin, spec.norm_type)
        self.norm_out = make_norm(cin, spec.norm_type)
        self.conv_out = CausalConv3d(cin, 2 * spec.z_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tdf = self.spec.time_downsample_factor
        if x.shape[2] % tdf != 0:  # 17 -> 20 frames, 1 -> 4 frames
            x = F.pad(x, (0, 0, 0, 0, tdf - 1, 0), mode=self.spec.init_pad_mode)
        # Released sizes for a 17-frame 256x256 chunk (ch 128, ch_mult 1-2-4-4), T' = 20 after
        # the leading padding. Level i keeps ch * ch_mult[i] channels; spatial halving after
        # levels 0-2, temporal halving after levels 1 and 2 (T' -> T'/2 -> T'/4 = t).
        h = self.conv_in(channels_last(x))  # (B, 128, 20, 256, 256)
        for i in range(len(self.spec.ch_mult)):
            for block_s, block_t in zip(self.down[i].block, self.down_temporal[i].block):
                h = spatial_temporal_block(h, block_s, block_t)  # (B, ch*mult[i], T_i, H_i, W_i)
            if i in self.spatial_down:
                B = h.shape[0]
                h = batch_to_frames(self.down[i].downsample(frames_to_batch(h)), B)  # H_i / 2
                if i in self.temporal_down:
                    h = self.down_temporal[i].downsample(h)  # T_i -> (T_i - 2) // 2 + 1
        # level 0: (B, 128, 20, 256, 256) -> level 1: (B, 256, 20, 128, 128)
        # -> level 2: (B, 512, 10, 64, 64) -> level 3: (B, 512, 5, 32, 32)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))  # (B, 512, 5, 32, 32)
        h = self.conv_out(nonlinearity(norm_frames(self.norm_out, h)))
        return h.contiguous()  # (B, 2z, t, h, w) = (B, 32, 5, 32, 32)


class VidTokDecoder(nn.Module):
    """latents (B, z, t, h, w) -> video (B, 3, 4t - 3, 8h, 8w). Port of `DecoderCausal3DPadding`
    (the 3 frames that correspond to the encoder's leading padding are dropped). No output clamp."""

    def __init__(self, spec: VidTokSpec):
        super().__init__()
        self.spec = spec
        n = len(spec.ch_mult)
        self.spatial_up = list(range(1, n))
        self.temporal_up = [1, 2]
        cin = spec.ch * spec.ch_mult[-1]
        self.conv_in = CausalConv3d(spec.z_channels, cin)
        self.mid = Level()
        self.mid.block_1 = ResBlock3d(cin, spec.norm_type)
        self.mid.attn_1 = FrameAttention(cin, spec.norm_type)
        self.mid.block_2 = ResBlock3d(cin, spec.norm_type)
        ups, ups_t = [], []
        for i in reversed(range(n)):
            cout = spec.ch * spec.ch_mult[i]
            up, up_t = Level(), Level()
            up.block = nn.ModuleList()
            up_t.block = nn.ModuleList()
            for _ in range(spec.num_res_blocks + 1):
                up.block.append(ResBlock2d(cin, cout, spec.norm_type))
                up_t.block.append(ResBlock1d(cout, spec.norm_type))
                cin = cout
            if i in self.spatial_up:
                up.upsample = SpatialUpsample(cin)
            if i in self.temporal_up:
                up_t.upsample = TimeUpsample(cin)
            ups.insert(0, up)
            ups_t.insert(0, up_t)
        self.up = nn.ModuleList(ups)
        self.up_temporal = nn.ModuleList(ups_t)
        self.norm_out = make_norm(cin, spec.norm_type)
        self.conv_out = CausalConv3d(cin, spec.out_ch)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # Released sizes for one chunk (t = 5 latent frames of 32x32). Spatial doubling after
        # levels 3-1, temporal doubling after levels 2 and 1.
        h = self.conv_in(channels_last(z))  # (B, 512, 5, 32, 32)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))  # (B, 512, 5, 32, 32)
        for i in reversed(range(len(self.spec.ch_mult))):
            for block_s, block_t in zip(self.up[i].block, self.up_temporal[i].block):
                h = spatial_temporal_block(h, block_s, block_t)  # (B, ch*mult[i], T_i, H_i, W_i)
            if i in self.spatial_up:
                B = h.shape[0]
                h = batch_to_frames(self.up[i].upsample(frames_to_batch(h)), B)  # H_i * 2
                if i in self.temporal_up:
                    h = self.up_temporal[i].upsample(h)  # T_i * 2
        # level 3: (B, 512, 5, 32, 32) -> level 2: (B, 512, 5, 64, 64)
        # -> level 1: (B, 256, 10, 128, 128) -> level 0: (B, 128, 20, 256, 256)
        h = self.conv_out(nonlinearity(norm_frames(self.norm_out, h)))  # (B, 3, 20, 256, 256)
        return h[:, :, self.spec.time_downsample_factor - 1 :].contiguous()  # drop the padding


class VidTok(nn.Module):
    """The VAE: `encoder`, `decoder` and the diagonal-Gaussian posterior between them."""

    def __init__(self, spec: VidTokSpec):
        super().__init__()
        self.spec = spec
        self.encoder = VidTokEncoder(spec)
        self.decoder = VidTokDecoder(spec)

    def moments(self, video: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, 2*z, t, h, w): posterior mean and log-variance, stacked.
        `batch_size` bounds how many clips go through the encoder at once (memory)."""
        if batch_size is None or video.shape[0] <= batch_size:
            return self.encoder(video)
        return torch.cat([self.encoder(v) for v in video.split(batch_size)])

    def encode(
        self, video: torch.Tensor, sample: bool = True, batch_size: int | None = None
    ) -> torch.Tensor:
        """(B, 3, T, H, W) -> latents (B, z, t, h, w).

        With `sample=True` (the official default) the posterior is sampled with ONE
        `torch.randn(mean.shape)` from the global CPU generator for the whole batch, exactly as
        upstream does, so seeded runs agree with it; `sample=False` returns the posterior mean.
        """
        mean, std = self.posterior(video, batch_size)
        if not sample:
            return mean
        # Global CPU RNG, float32 draws like upstream (a float64 model sees the same numbers).
        noise = torch.randn(mean.shape, dtype=torch.float32).to(mean.device)
        return mean + std * noise

    def posterior(
        self, video: torch.Tensor, batch_size: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, T, H, W) -> posterior mean and std, each (B, z, t, h, w); the log-variance is
        clamped to [-30, 20] first, as upstream does."""
        mean, logvar = self.moments(video, batch_size).chunk(2, dim=1)
        return mean, torch.exp(0.5 * logvar.clamp(-30.0, 20.0))

    def decode(self, latents: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """(B, z, t, h, w) -> (B, 3, 4t - 3, 8h, 8w), roughly in [-1, 1]."""
        if batch_size is None or latents.shape[0] <= batch_size:
            return self.decoder(latents)
        return torch.cat([self.decoder(z) for z in latents.split(batch_size)])
