"""Write the app's example clips (assets/examples/*.mp4) with the procedural generator.

    python -m training.make_examples            # 6 clips, 33 frames at 8 fps, 256x256

Seeds come from the held-out range (never used for training), so the examples show the demo
model on scenes it has not seen. The clips are 256 px so that the released 256x256 models can
use them too; the 64x64 demo model reads them downscaled, like any other video.
"""

import argparse
from pathlib import Path

from synthetic import make_clip, sample_scene
from videoflextok_core.media.video import write_video

from .config import EVAL_SEED_BASE

SEEDS = (3, 8, 13, 21, 34, 55)  # offsets into the held-out seed range, picked for variety


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("assets/examples"))
    p.add_argument("--frames", type=int, default=33)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--fps", type=float, default=8.0)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    what = f"{args.frames} frames at {args.fps:g} fps, {args.size}x{args.size}"
    lines = ["# Example clips", "", f"Made by `python -m training.make_examples` ({what}).", ""]
    for i, offset in enumerate(SEEDS):
        seed = EVAL_SEED_BASE + offset
        clip = make_clip(seed, args.frames, args.size, args.fps)
        name = f"scene_{i + 1}_seed{seed}.mp4"
        write_video(clip, args.out / name, args.fps)
        lines.append(f"* `{name}`: {sample_scene(seed).describe()}")
        print(name)
    (args.out / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
