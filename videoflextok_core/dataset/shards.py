"""A token dataset on disk: Parquet shards plus `manifest.json`, written atomically, resumable.

    DIR/manifest.json          what made the tokens (model, precision, reader settings) + counts
    DIR/shard-000000.parquet   rows (one per segment), in the order segments finished
    DIR/.lock                  held (flock) while a run writes DIR

Columns (`schema(token_type)`): key, path, start (s), frames, fps, t, n, tokens (list of t lists
of n ids: uint16 when the codebook fits, else int32), width, height, duration (the source's),
note (what the reader padded, cut or rotated) and error (null, or why the file could not be
read; its other columns are then null). Plain pyarrow, pandas or `datasets` read the shards:

    pyarrow.parquet.read_table([str(p) for p in sorted(DIR.glob("shard-*.parquet"))])

A shard is written to a hidden temp name and renamed into place, so a killed run leaves only
whole shards; the keys in them are what a resumed run skips.
"""

import fcntl
import json
import os
from pathlib import Path

DATASET_KIND = "videoflextok-token-dataset"  # manifest "kind"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARD_GLOB = "shard-*.parquet"
IDENTITY_KEYS = ("model_config_hash", "model_weights_fingerprint", "precision", "reader")


class DatasetError(ValueError):
    """A dataset directory that cannot be used as asked; the message says why, for a person."""


def token_type(codebook_size: int):
    """The narrowest Arrow integer type for ids in 0..codebook_size-1."""
    import pyarrow as pa

    return pa.uint16() if codebook_size <= 2**16 else pa.int32()


def schema(ids_type):
    import pyarrow as pa

    return pa.schema(
        [
            ("key", pa.string()),
            ("path", pa.string()),
            ("start", pa.float64()),
            ("frames", pa.int32()),
            ("fps", pa.float64()),
            ("t", pa.int32()),
            ("n", pa.int32()),
            ("tokens", pa.list_(pa.list_(ids_type))),  # (t, n)
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("duration", pa.float64()),
            ("note", pa.string()),
            ("error", pa.string()),
        ]
    )


# ---------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(folder: str | Path) -> dict | None:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not a JSON manifest ({e})") from None
    if manifest.get("kind") != DATASET_KIND:
        raise DatasetError(f"{path}: not a {DATASET_KIND} manifest")
    return manifest


def write_manifest(folder: str | Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    _write_atomic(Path(folder) / MANIFEST, text.encode())


def check_resumable(old: dict, new: dict, folder: str | Path) -> None:
    """Refuse to add rows to a dataset made with another model, precision or reader settings."""
    for key in IDENTITY_KEYS:
        if old.get(key) != new.get(key):
            raise DatasetError(
                f"{folder} holds tokens made with {key} {json.dumps(old.get(key))}, this run has "
                f"{json.dumps(new.get(key))} (model {old.get('model_ref')}); use another --out "
                "directory, or the same model and reader flags to resume"
            )


# ---------------------------------------------------------------------------------------------
# Shards
# ---------------------------------------------------------------------------------------------


def shard_paths(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob(SHARD_GLOB))


def done_keys(folder: str | Path) -> set[str]:
    """Keys of the rows already written (only the key column is read)."""
    import pyarrow.parquet as pq

    keys: set[str] = set()
    for p in shard_paths(folder):
        keys.update(pq.read_table(p, columns=["key"]).column("key").to_pylist())
    return keys


def read_dataset(folder: str | Path):
    """All rows of a dataset directory as one pyarrow Table (shard order, then row order)."""
    import pyarrow.parquet as pq

    paths = shard_paths(folder)
    if not paths:
        raise DatasetError(f"{folder}: no {SHARD_GLOB} files (not a tokenize-dataset output?)")
    return pq.read_table([str(p) for p in paths])


class Lock:
    """An exclusive flock on DIR/.lock: two runs never write one directory at once. The kernel
    drops it when the process dies, so a killed run does not block the next."""

    def __init__(self, folder: Path):
        self.path = folder / ".lock"
        self.file = None

    def __enter__(self) -> "Lock":
        self.file = open(self.path, "w")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise DatasetError(
                f"{self.path.parent}: another tokenize-dataset run writes it"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


class ShardWriter:
    """Collects finished rows and writes every `rows_per_shard` of them as one shard, atomically
    (temp file, fsync, rename); numbering continues after the shards already in the folder."""

    def __init__(self, folder: Path, table_schema, rows_per_shard: int):
        if rows_per_shard < 1:
            raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
        self.folder, self.schema, self.rows_per_shard = folder, table_schema, rows_per_shard
        for stale in folder.glob(".shard-*.tmp"):  # left by a killed run: never renamed
            stale.unlink()
        existing = [int(p.stem.split("-")[1]) for p in shard_paths(folder)]
        self.next_index = max(existing, default=-1) + 1
        self.pending = []  # pyarrow Tables not yet written
        self.num_pending = 0
        self.written = 0  # rows written by this writer

    def add(self, table) -> None:
        self.pending.append(table.select(self.schema.names).cast(self.schema))
        self.num_pending += table.num_rows
        while self.num_pending >= self.rows_per_shard:
            self._write(self.rows_per_shard)

    def flush(self) -> None:
        if self.num_pending:
            self._write(self.num_pending)

    def _write(self, n: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables(self.pending).combine_chunks()
        head, rest = table.slice(0, n), table.slice(n)
        path = self.folder / f"shard-{self.next_index:06d}.parquet"
        tmp = self.folder / f".{path.name}.tmp"
        with open(tmp, "wb") as f:
            pq.write_table(head, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        self.next_index += 1
        self.written += n
        self.pending, self.num_pending = ([rest] if rest.num_rows else []), rest.num_rows


# ---------------------------------------------------------------------------------------------
# Reading tokens back
# ---------------------------------------------------------------------------------------------


def load_tokens(
    folder: str | Path,
    path: str | None = None,
    start: float | None = None,
    row: int | None = None,
):
    """One segment's tokens for `model.detokenize`, chosen by `path` (+ `start`) or by `row`.

    Args:
        folder: a tokenize-dataset output directory.
        path: the video (as given or resolved); start: the segment's start in seconds (default:
            the file's first segment).
        row: index in `read_dataset(folder)` instead of path/start.

    Returns:
        tokens (1, t, n) int64, and metadata in the keys of a tokens file (`tokenfile`):
        model_ref, model_config_hash, model_weights_fingerprint, fps, start, frames, source.
    """
    import pyarrow.compute as pc
    import torch

    if (path is None) == (row is None):
        raise ValueError("pass either path (with an optional start) or row")
    manifest = read_manifest(folder)
    if manifest is None:
        raise DatasetError(f"{folder}: no {MANIFEST} (not a tokenize-dataset output?)")
    table = read_dataset(folder)
    if row is not None:
        if not 0 <= row < table.num_rows:
            raise DatasetError(f"row {row} is outside 0..{table.num_rows - 1} of {folder}")
        picked = table.slice(row, 1)
    else:
        resolved = str(Path(path).resolve())
        picked = table.filter(pc.equal(table["path"], resolved))
        if picked.num_rows == 0:
            raise DatasetError(f"{folder} has no row for {resolved}")
        starts = picked["start"].to_pylist()
        want = min(starts) if start is None else start
        index = min(range(len(starts)), key=lambda i: abs(starts[i] - want))
        if abs(starts[index] - want) > 1e-6:
            listed = ", ".join(f"{s:g}" for s in sorted(starts))
            raise DatasetError(f"{Path(path).name} has no segment at {want:g} s (it has {listed})")
        picked = picked.slice(index, 1)
    r = picked.to_pylist()[0]
    if r["error"] is not None:
        raise DatasetError(
            f"{Path(r['path']).name} at {r['start']:g} s has no tokens: {r['error']}"
        )
    tokens = torch.tensor(r["tokens"], dtype=torch.int64)[None]  # (1, t, n)
    meta = {
        "model_ref": manifest["model_ref"],
        "model_config_hash": manifest["model_config_hash"],
        "model_weights_fingerprint": manifest["model_weights_fingerprint"],
        "fps": f"{r['fps']:g}",
        "start": f"{r['start']:g}",
        "frames": str(r["frames"]),
        "source": r["path"],
    }
    return tokens, meta


__all__ = [
    "DATASET_KIND",
    "DatasetError",
    "ShardWriter",
    "load_tokens",
    "read_dataset",
    "read_manifest",
    "schema",
]
