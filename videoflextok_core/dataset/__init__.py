"""Token datasets: a whole video collection tokenized into resumable Parquet shards on Ray Data.

    python -m videoflextok_core tokenize-dataset clips/ --out tokens/ --max-frames 33

    from videoflextok_core.dataset import load_tokens, read_dataset
    table = read_dataset("tokens/")                      # pyarrow Table, one row per segment
    tokens, meta = load_tokens("tokens/", path="clips/a.mp4", start=0.0)   # (1, t, n) int64
    video = model.detokenize([tokens[..., :16]], Sampler(steps=25))[0]

plan.py (inputs -> segments, keys, the reader), shards.py (schema, atomic shards, manifest,
read-back), runner.py (the Ray Data pipeline; the only module that imports ray).
"""

from .plan import ReaderSettings, Segment, expand_inputs, plan_segments
from .shards import DatasetError, load_tokens, read_dataset, read_manifest

__all__ = [
    "DatasetError",
    "ReaderSettings",
    "Segment",
    "expand_inputs",
    "load_tokens",
    "plan_segments",
    "read_dataset",
    "read_manifest",
]
