"""Reconstruction losses of the VAE stages: L1 + L2 + a structural (SSIM) term.

No pretrained perceptual network can be had here, so structure is asked for by SSIM (Wang et al.
2004, an 11-tap Gaussian window, sigma 1.5, per frame and channel): the same formula as the
evaluation's metric (`videoflextok_core.media.metrics.ssim_frames`), here in float32 with
gradients.

Legend: B clips, T frames; videos (B, 3, T, H, W) in [-1, 1].
"""

from dataclasses import dataclass

import torch

from videoflextok_core.media.metrics import ssim_frames


def ssim_loss(recon: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """1 - mean SSIM of the frames, both mapped from [-1, 1] to [0, 1]: a 0-d tensor."""
    a = ((recon + 1) / 2).transpose(1, 2)  # (B, T, 3, H, W)
    b = ((video + 1) / 2).transpose(1, 2)
    return 1 - ssim_frames(a, b).mean()


@dataclass(frozen=True)
class ReconTerms:
    loss: torch.Tensor  # the weighted sum that is optimised (0-d)
    l1: torch.Tensor  # mean |recon - video| in [-1, 1] units
    mse: torch.Tensor  # mean squared error in [-1, 1] units (PSNR = -10 log10(mse / 4))
    ssim: torch.Tensor  # 1 - SSIM


@dataclass(frozen=True)
class ReconLoss:
    l2: float = 1.0  # weight of the squared error (the L1 term has weight 1)
    ssim: float = 0.2  # weight of 1 - SSIM

    def __call__(self, recon: torch.Tensor, video: torch.Tensor) -> ReconTerms:
        recon = recon.float()
        diff = recon - video
        l1, mse = diff.abs().mean(), diff.pow(2).mean()
        s = ssim_loss(recon, video) if self.ssim else torch.zeros(())
        return ReconTerms(l1 + self.l2 * mse + self.ssim * s, l1, mse, s)
