"""Demo model v2, stage 4: tune the demo sampler, export in fp16, check the round trip.

* Tuning: every (steps, guidance) of a grid decodes held-out tuning clips (a TrainingClips
  stream no stage trains on, so neither the evaluation clips nor the real ones) at the budgets
  k = 1, 4, 16, N; a setting's score is its mean PSNR over clips and budgets. The shipped
  default is the cheapest setting (fewest flow-decoder forwards: steps, twice over with
  guidance) that scores within `hold_db` of the best one, the better-scoring of equals: the app
  decodes on a 2-core CPU, where each forward is time a visitor waits.
* Export: config.json (with `demo_defaults`) + model.safetensors in the Hub layout, the weights
  in float16 (the loader casts them back to float32 as it reads them), so the checkpoint is half
  the size of float32 weights.
* Round trip: the exported checkpoint, loaded back, against the float32 model it came from, on
  the tuning clips at the chosen defaults: the PSNR of each must agree within `fp16_tol_db`.

Legend: videos (N, 3, 17, 64, 64) in [-1, 1].
"""

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from videoflextok_core.model import Sampler, VideoFlexTok
from videoflextok_core.model.checkpoint import save_pretrained
from videoflextok_core.model.config import parse_config

from .stage_resampler import ladder_psnr


@dataclass(frozen=True)
class FinishRecipe:
    steps_grid: tuple[int, ...] = (1, 2, 4, 8, 16)
    guidance_grid: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)  # v1 took 8 of 1-8
    budgets: tuple[int, ...] = (1, 4, 16, 64)  # clipped to the model's registers
    hold_db: float = 0.1
    fp16_tol_db: float = 0.02


def sampler_of(steps: int, guidance: float) -> Sampler:
    """The demo sampler of a grid point: APG whenever guidance is on (as v1 shipped)."""
    return Sampler(steps=steps, guidance=guidance, apg=guidance != 1.0)


@dataclass(frozen=True)
class Tuning:
    sampler: Sampler  # the chosen demo default
    scores: dict[tuple[int, float], float]  # (steps, guidance) -> mean PSNR (dB)
    best: tuple[int, float]  # the best-scoring setting, whatever its steps

    def as_log(self) -> dict:
        return {
            "chosen": {"steps": self.sampler.steps, "guidance": self.sampler.guidance},
            "best": {"steps": self.best[0], "guidance": self.best[1]},
            "scores": {f"{s}x{g:g}": round(v, 3) for (s, g), v in self.scores.items()},
        }


def tune(model: VideoFlexTok, videos: torch.Tensor, r: FinishRecipe, log=None) -> Tuning:
    """Score every grid point on `videos` and pick the default (see the module docstring)."""
    budgets = tuple(k for k in r.budgets if k <= model.n_registers)
    scores = {}
    for steps in r.steps_grid:
        for g in r.guidance_grid:
            psnr = ladder_psnr(model, videos, budgets, sampler_of(steps, g))
            scores[steps, g] = sum(psnr.values()) / len(psnr)
            if log is not None:
                log(stage="finish_tune", steps=steps, guidance=g, psnr=psnr, mean=scores[steps, g])
    steps, g = choose(scores, r.hold_db)
    return Tuning(sampler_of(steps, g), scores, max(scores, key=scores.get))


def choose(scores: dict[tuple[int, float], float], hold_db: float) -> tuple[int, float]:
    """The cheapest (steps, guidance) scoring within `hold_db` of the best; of equally cheap
    ones, the better-scoring."""
    best = max(scores.values())
    held = [point for point, v in scores.items() if v >= best - hold_db]
    return min(held, key=lambda p: (forwards(*p), -scores[p]))


def forwards(steps: int, guidance: float) -> int:
    """Flow-decoder forwards per chunk: guidance runs a conditional and an unconditional one."""
    return steps * (2 if guidance != 1.0 else 1)


def demo_defaults(sampler: Sampler) -> dict:
    """config.json's "demo_defaults", in upstream's keywords."""
    return sampler.official("steps", "guidance", "apg")


def export_fp16(model: VideoFlexTok, hub: dict, out: Path) -> Path:
    """Write `model` with the config.json `hub` (demo_defaults included) to `out`, in fp16."""
    return save_pretrained(copy.deepcopy(model).half(), parse_config(hub), out)


def round_trip_db(model: VideoFlexTok, out: Path, videos: torch.Tensor, sampler: Sampler):
    """(PSNR float32, PSNR exported) at full k on `videos`, as `ladder_psnr` measures them."""
    loaded = VideoFlexTok.from_pretrained(out, device="cpu")
    k = (model.n_registers,)
    ours = ladder_psnr(model, videos, k, sampler)[k[0]]
    theirs = ladder_psnr(loaded, videos, k, sampler)[k[0]]
    return ours, theirs
