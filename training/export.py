"""Export a (possibly unfinished) training run to the Hub layout.

    python -m training.export --work runs/demo-model --out assets/demo-model

Reads work/vae.safetensors (and work/vae_decoder.safetensors, stage 1b, if present) and the EMA
weights of work/resampler_state.safetensors and writes config.json + model.safetensors.
train_demo.py does this itself at the end (after tuning the guidance scale); this is for looking
at, or shipping, an intermediate state.
"""

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.checkpoint import save_pretrained
from videoflextok_core.model.config import parse_config

from .config import DemoConfig, hub_config
from .train_resampler import read_metadata
from .train_vae import load_decoder_finetune


def export(work: Path, out: Path, guidance: float = 1.0, steps: int = 16) -> int:
    """Returns the resampler step of the exported weights."""
    c = DemoConfig()
    defaults = {
        "timesteps": steps,
        "guidance_scale": guidance,
        "perform_norm_guidance": guidance != 1.0,
    }
    config = parse_config(hub_config(c, defaults))
    model = VideoFlexTok(config)
    model.vae.load_state_dict(load_file(work / "vae.safetensors"))
    load_decoder_finetune(model.vae, work)  # stage 1b, if the run has one
    state_path = work / "resampler_state.safetensors"
    step = int(read_metadata(state_path)["step"])
    ema = {k[4:]: v for k, v in load_file(state_path).items() if k.startswith("ema.")}
    with torch.no_grad():
        for name, p in list(model.encoder.named_parameters(prefix="encoder")) + list(
            model.decoder.named_parameters(prefix="decoder")
        ):
            p.copy_(ema[name])
    save_pretrained(model, config, out)
    (out / "training_log.json").write_text(
        json.dumps(
            {"exported_from": str(work), "resampler_step": step, "note": "intermediate export"},
            indent=2,
        )
        + "\n"
    )
    return step


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("runs/demo-model"))
    p.add_argument("--out", type=Path, default=Path("assets/demo-model"))
    p.add_argument("--guidance", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=16)
    args = p.parse_args()
    step = export(args.work, args.out, args.guidance, args.steps)
    print(f"exported resampler step {step} to {args.out}")


if __name__ == "__main__":
    main()
