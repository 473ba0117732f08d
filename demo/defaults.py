"""What the page starts with for a model: k, the clip lengths offered, the sampler, the seeds.

    from demo.defaults import app_defaults
    d = app_defaults(model)            # on the model's device
    d.k, d.frames, d.frame_choices     # 16, 17, (17, 33, 49, 65) for the demo model on a CPU
    d.sampler                          # the checkpoint's demo_defaults, else guidance 20 + APG

Which model runs is `startup.py`'s business; how the page's values are read, `request.py`'s.
"""

from dataclasses import dataclass, replace

from videoflextok_core.curve import default_budgets, grid_budgets
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.sampling import Sampler

RELEASED_GUIDANCE = 20.0  # released models' guidance (with APG), as in the official notebook
CUDA_STEPS = 25  # Euler steps on a GPU: near the official 30, about a second per chunk
MAX_CHUNKS = {"cuda": 8, "cpu": 4}  # longest clip offered: 129 frames on a GPU, 65 on a CPU
DEFAULT_CHUNKS = {"cuda": 2, "cpu": 1}  # clip length preselected: 33 / 17 frames


@dataclass(frozen=True)
class Defaults:
    """What the page starts with."""

    k: int  # tokens per latent frame
    frames: int  # clip length
    frame_choices: tuple[int, ...]  # valid lengths, 1 + 16K
    sampler: Sampler  # steps, guidance, APG, seed
    ladder: tuple[int, ...]  # the quality ladder's budgets: 1, 2, 4, ..., N and the grid's
    seeds: int = 4  # seeds the seed view decodes together


def app_defaults(model: VideoFlexTok, device: str | None = None) -> Defaults:
    """Sampler settings from the checkpoint's "demo_defaults" where it has them (the demo model),
    else the released models' guidance 20 with APG. Steps: 25 on a GPU, else the demo defaults'
    (16 for the demo model). Clip lengths up to 8 chunks on a GPU, 4 on a CPU. The ladder
    decodes 1, 2, 4, ... below N, N, and the budgets the grid shows."""
    device = (device or model.device.type).split(":")[0]
    gpu = "cuda" if device == "cuda" else "cpu"
    sampler = model.config.demo_sampler(Sampler(steps=25, guidance=RELEASED_GUIDANCE, apg=True))
    if gpu == "cuda":
        sampler = replace(sampler, steps=CUDA_STEPS)
    c = model.chunking
    choices = tuple(c.valid_frames(n) for n in range(1, MAX_CHUNKS[gpu] + 1))
    N = model.n_registers
    return Defaults(
        k=max(1, N // 4),
        frames=choices[DEFAULT_CHUNKS[gpu] - 1],
        frame_choices=choices,
        sampler=sampler,
        ladder=tuple(sorted(set(default_budgets(N)) | set(grid_budgets(N)))),
    )


__all__ = ["CUDA_STEPS", "Defaults", "app_defaults"]
