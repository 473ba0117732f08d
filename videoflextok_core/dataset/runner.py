"""Tokenize many videos on Ray Data: CPU tasks read segments, model actors tokenize them, the
driver writes Parquet shards as results stream in.

    plan (driver) -> from_items -> map(read_segment)        CPU tasks, num_cpus=1
                  -> map_batches(Tokenizer, ActorPool(W))   one actor per GPU, or W CPU actors
                  -> iter_batches (driver)                  ShardWriter, progress on stderr

On a CPU-only cluster the read map and the CPU actors ask for the same resources, so Ray Data
fuses them into one actor stage (each actor reads, then tokenizes: both use its one core); with
GPUs they stay apart and decoding overlaps the model. One segment goes through the model per
call, exactly as `python -m videoflextok_core tokenize` runs it, so the ids are the same.

`ray` is imported here only: the library and the app work without it.
"""

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..media.read import DEFAULT_MAX_FRAMES
from . import plan, shards

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # videoflextok_core/
INSTALL_HINT = 'pip install -r requirements-scale.txt  (or: pip install "ray[data]==2.60.0")'
TOKENIZED_FROM = "VAE posterior mean (deterministic)"


@dataclass(frozen=True)
class DatasetJob:
    """Everything `tokenize-dataset` was asked to do."""

    inputs: tuple[str, ...]
    out: Path
    model_ref: str
    fps: float | None = None  # default: the model's
    max_frames: int = DEFAULT_MAX_FRAMES  # per segment, as `tokenize --max-frames`
    segments: str = "first"  # or "all"
    workers: int | None = None  # model actors; default: one per GPU, else 1
    ray_address: str | None = None  # None: the running Ray, else a local one
    rows_per_shard: int = 1000
    progress_every_s: float = 5.0
    precision: str = "auto"  # as `--precision`; tokenize runs float32 with float32 weights


@dataclass
class DatasetSummary:
    """What a run did: segments planned, skipped (already in DIR), written now, errors."""

    total: int
    skipped: int
    written: int
    errors: int
    seconds: float
    startup_seconds: float  # until the first row arrived (Ray, actors, model loads)
    precision: str  # what the ids were computed in: "fp32" (or "bf16" for bf16 weights)
    manifest: dict = field(repr=False)


# ---------------------------------------------------------------------------------------------
# The model actor
# ---------------------------------------------------------------------------------------------


def _py(value):
    """A numpy scalar (or the str of an object column) as a plain Python value."""
    return value.item() if hasattr(value, "item") else value


class Tokenizer:
    """A Ray Data actor holding one model; each call turns read segments into dataset rows."""

    def __init__(self, model_ref: str, device: str, fingerprint: str, threads: int, precision: str):
        import torch

        from ..loading import load_model
        from ..model.identity import weights_fingerprint

        if device == "cpu":
            torch.set_num_threads(threads)
        self.model = load_model(model_ref, device, precision)
        found = weights_fingerprint(self.model)
        if found != fingerprint:  # e.g. a worker node holds another file under the same path
            raise shards.DatasetError(
                f"{model_ref} on this worker has weights {found}, the driver's has {fingerprint}"
            )
        self.ids_type = shards.token_type(self.model.codebook_size)
        self.schema = shards.schema(self.ids_type)

    def __call__(self, batch: dict):
        import numpy as np
        import pyarrow as pa
        import torch

        rows = []
        for i in range(len(batch["key"])):
            error = str(batch["error"][i]) or None
            row = {k: _py(batch[k][i]) for k in ("key", "path", "start", "fps")}
            row.update(error=error, note=str(batch["note"][i]) if not error else None)
            for k in ("frames", "width", "height", "duration"):
                v = _py(batch[k][i])
                row[k] = v if v else None  # 0 stands for unknown on the way here
            if error is None:
                video = torch.from_numpy(np.ascontiguousarray(batch["video"][i]))
                ids = self.model.tokenize_clip(video)[0].numpy()  # (t, n)
                row.update(t=ids.shape[0], n=ids.shape[1], tokens=ids.tolist())
            rows.append(row)
        return pa.Table.from_pylist(rows, schema=self.schema)


# ---------------------------------------------------------------------------------------------
# Ray
# ---------------------------------------------------------------------------------------------


def import_ray():
    """ray and ray.data, or a DatasetError that says how to install them."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports to Anyscale
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise shards.DatasetError(f"tokenize-dataset needs Ray Data: {INSTALL_HINT}") from None
    return ray


def start_ray(address: str | None) -> bool:
    """Join `address` ("auto", "ray://host:10001", "host:6379"), else the Ray this process
    already runs, else start a local one. Returns whether this call started or joined it (and
    so should shut it down)."""
    import logging
    import signal
    import threading

    ray = import_ray()
    if ray.is_initialized():
        return False
    on_sigterm = signal.getsignal(signal.SIGTERM)  # ray.init replaces it with sys.exit(15)
    if address is None:  # local workers inherit the environment: make the package importable
        root = str(PACKAGE_DIR.parent)
        parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *[p for p in parts if p != root]])
        ray.init(include_dashboard=False, logging_level=logging.WARNING)
    else:  # a cluster gets the package shipped with the job (workers need torch, av, pyarrow)
        runtime_env = {"py_modules": [str(PACKAGE_DIR)]}
        ray.init(address=address, runtime_env=runtime_env, logging_level=logging.WARNING)
    if threading.current_thread() is threading.main_thread() and on_sigterm is not None:
        signal.signal(signal.SIGTERM, on_sigterm)  # the caller's (the CLI: finish the shard)
    return True


def quiet_ray_data() -> None:
    import logging

    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # our own progress line instead
    logging.getLogger("ray.data").setLevel(logging.WARNING)


# ---------------------------------------------------------------------------------------------
# The progress line
# ---------------------------------------------------------------------------------------------


class RateLine:
    """`segments done/total, rate, ETA` lines on stderr, at most one per `every` seconds."""

    def __init__(self, total: int, skipped: int, every: float, stream=None):
        self.total, self.skipped, self.every = total, skipped, every
        self.stream = stream or sys.stderr
        self.t0 = self.last = time.monotonic()

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < self.every:
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-9)
        left = self.total - self.skipped - done
        eta = f"ETA {time.strftime('%H:%M:%S', time.gmtime(left / rate))}" if rate else "ETA ?"
        skipped = f" ({self.skipped} already in the folder)" if self.skipped else ""
        line = f"tokenize-dataset: {self.skipped + done}/{self.total} segments{skipped}, "
        self.stream.write(line + f"{rate:.2f} segments/s, {'done' if final else eta}\n")
        self.stream.flush()


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def _counts(folder: Path) -> dict:
    import pyarrow.parquet as pq

    paths = shards.shard_paths(folder)
    rows = errors = 0
    for p in paths:
        col = pq.read_table(p, columns=["error"]).column("error")
        rows, errors = rows + len(col), errors + len(col) - col.null_count
    return {"segments": rows, "errors": errors, "shards": len(paths)}


def _identity(job: DatasetJob, reader: plan.ReaderSettings, device: str):
    """The driver's manifest for this run (loads the model once on the CPU for its
    fingerprint), and the values the actors need."""
    from ..loading import load_model
    from ..model.identity import config_hash, weights_fingerprint
    from ..model.precision import Precision
    from ..tokenfile import VERSION

    model = load_model(job.model_ref, "cpu", "fp32")  # the weights' fingerprint, on the CPU
    ref = Path(job.model_ref)
    # what the actors' tokenize runs in on `device` (float32 for float32 weights, anywhere)
    weights = next(model.parameters()).dtype
    precision = Precision.resolve(job.precision, device, weights).tokenize_runs
    manifest = {
        "kind": shards.DATASET_KIND,
        "format_version": shards.FORMAT_VERSION,
        "tool_version": VERSION,
        "model_ref": str(ref.resolve()) if ref.exists() else job.model_ref,
        "model_config_hash": config_hash(model.config),
        "model_weights_fingerprint": weights_fingerprint(model),
        "precision": precision,
        "resolution": list(model.resolution),
        "codebook_size": model.codebook_size,
        "tokens_per_frame": model.n_registers,
        "token_type": str(shards.token_type(model.codebook_size)),
        "tokenized_from": TOKENIZED_FROM,
        "reader": reader.as_json(),
        "columns": shards.schema(shards.token_type(model.codebook_size)).names,
    }
    return manifest, model.config


def run_dataset(job: DatasetJob) -> DatasetSummary:
    """Plan, skip what DIR already holds, tokenize the rest on Ray and write shards.

    Raises `DatasetError` (a folder made with another model or reader settings, no ray, a
    busy folder) and ValueError for bad arguments; a file that cannot be read is a row.
    """
    from ..model.checkpoint import resolve
    from ..model.config import parse_config
    from ..model.precision import Precision

    t0 = time.monotonic()
    if job.workers is not None and job.workers < 1:
        raise ValueError(f"workers must be >= 1, got {job.workers}")
    Precision.resolve(job.precision, "cpu")  # ValueError for a bad setting, before Ray starts
    config = parse_config(resolve(job.model_ref)[0])  # bad refs fail before Ray starts
    reader = plan.ReaderSettings.for_model(config, job.fps, job.max_frames, job.segments)
    files = plan.expand_inputs(list(job.inputs))
    ray = import_ray()
    job.out.mkdir(parents=True, exist_ok=True)
    with shards.Lock(job.out):
        owns_ray = start_ray(job.ray_address)
        try:
            return _run(ray, job, reader, files, t0)
        finally:
            if owns_ray:
                ray.shutdown()


def _run(ray, job, reader, files, t0) -> DatasetSummary:
    quiet_ray_data()
    gpus = int(ray.cluster_resources().get("GPU", 0))
    device = "cuda" if gpus else "cpu"
    workers = job.workers or max(gpus, 1)
    if gpus and workers > gpus:
        raise ValueError(f"--workers {workers}: the cluster has {gpus} GPUs, one actor each")
    manifest, config = _identity(job, reader, device)
    old = shards.read_manifest(job.out)
    if old is not None:
        shards.check_resumable(old, manifest, job.out)
    elif shards.shard_paths(job.out):
        raise shards.DatasetError(f"{job.out} holds shards but no {shards.MANIFEST}")
    manifest["created"] = (old or {}).get("created", time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    manifest["counts"] = _counts(job.out)
    shards.write_manifest(job.out, manifest)

    segments = plan.plan_segments(files, reader)
    done = shards.done_keys(job.out)
    todo = [s for s in segments if s.key not in done]
    progress = RateLine(len(segments), len(segments) - len(todo), job.progress_every_s)
    writer = shards.ShardWriter(
        job.out, shards.schema(shards.token_type(manifest["codebook_size"])), job.rows_per_shard
    )
    errors, first_row = 0, None
    try:
        if todo:
            rows = [plan.segment_row(s) for s in todo]
            ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), 1024))
            ds = ds.map(
                plan.read_segment, fn_kwargs={"config": config, "reader": reader}, num_cpus=1
            )
            resources = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
            ds = ds.map_batches(
                Tokenizer,
                fn_constructor_kwargs={
                    "model_ref": job.model_ref,
                    "device": device,
                    "fingerprint": manifest["model_weights_fingerprint"],
                    "threads": 1,
                    "precision": job.precision,
                },
                batch_size=1,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                **resources,
            )
            for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                first_row = first_row or time.monotonic()
                writer.add(table)
                errors += table.num_rows - table.column("error").null_count
                progress(writer.written + writer.num_pending)
    finally:
        writer.flush()  # whole rows that finished before an interrupt are kept
        manifest["counts"] = _counts(job.out)
        manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ")
        shards.write_manifest(job.out, manifest)
    progress(writer.written, final=True)
    now = time.monotonic()
    return DatasetSummary(
        total=len(segments),
        skipped=len(segments) - len(todo),
        written=writer.written,
        errors=errors,
        seconds=now - t0,
        startup_seconds=(first_row or now) - t0,
        precision=manifest["precision"],
        manifest=manifest,
    )


__all__ = ["DatasetJob", "DatasetSummary", "Tokenizer", "run_dataset", "start_ray"]
