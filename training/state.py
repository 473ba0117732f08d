"""A training stage's resumable state, and the session clock that decides when to save and stop.

`TrainState` holds what an uninterrupted run would carry from one step to the next: the trained
parameters, their EMA, AdamW's moments, the random generators, the step and the data position
(how many training samples were drawn). It is saved, atomically, as one safetensors file (never
a pickle) with the counters and the stage's settings in its metadata; loading restores every
piece, so a resumed stage draws the same data and noise and follows the same LR schedule as one
that never stopped.

`SessionClock` turns `--session-minutes M` into "stop after the step that crosses M minutes",
asks for a save at least every `save_minutes`, and makes SIGTERM / SIGINT stop the loop cleanly
(after a save) instead of killing it mid-write.
"""

import json
import math
import os
import signal
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


class TrainState:
    """params: the trained tensors by name (those of the model, updated in place).

    ema: a float32 copy of each, lerped towards the parameters after every step with
    decay min(ema_decay, (1 + n) / (10 + n)) at update n (the usual warm-up of the EMA).
    """

    def __init__(
        self,
        params: dict[str, torch.nn.Parameter],
        opt: torch.optim.Optimizer,
        generators: dict[str, torch.Generator],
        ema_decay: float,
    ):
        self.params = params
        self.opt = opt
        self.generators = generators
        self.ema_decay = ema_decay
        self.ema = {k: p.detach().float().clone() for k, p in params.items()}
        self.step = 0  # optimizer steps taken
        self.samples = 0  # training samples drawn: the data position
        self.seconds = 0.0  # training wall-clock over all sessions

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.ema_decay, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(
            list(self.ema.values()), [p.detach().float() for p in self.params.values()], 1 - decay
        )

    def update(self, loss: torch.Tensor, grad_clip: float, batch: int) -> torch.Tensor:
        """One optimiser update from `loss` (the learning rate already set): gradients clipped
        to `grad_clip`, refused if not finite, AdamW's step, the EMA, the counters (`batch`
        samples drawn). Returns the gradient norm before clipping."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(list(self.params.values()), grad_clip)
        if not math.isfinite(float(gnorm)):
            raise FloatingPointError(f"non-finite gradient at step {self.step}")
        self.opt.step()
        self.update_ema()
        self.step += 1
        self.samples += batch
        return gnorm

    def set_lr(self, lr: float) -> None:
        for g in self.opt.param_groups:
            g["lr"] = lr

    def after_step(self, home: Path, meta: dict, clock: "SessionClock", decay_start: int) -> bool:
        """What a stage does after each step (and its evaluation, if any): keep the state where
        the decay begins (home/stable.safetensors, to extend the stage from), then tell the loop
        to stop (True) if the clock says so, else save home/state.safetensors if one is due."""
        if self.step == decay_start:
            self.save(home / "stable.safetensors", meta)
        if clock.stopping:
            return True
        if clock.save_due():
            self.save(home / "state.safetensors", meta)
            clock.saved()
        return False

    @torch.no_grad()
    def ema_state(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.ema.items()}

    @torch.no_grad()
    def restart(self, weights: dict[str, torch.Tensor], step: int, samples: int) -> None:
        """Restart from a milestone's weights (EMA weights, any float dtype): the parameters and
        the EMA take them, the optimiser starts empty, the counters continue at `step`."""
        for k, p in self.params.items():
            p.copy_(weights[k])
        self.ema = {k: weights[k].float().clone() for k in self.params}
        self.step, self.samples = step, samples

    def save(self, path: Path, meta: dict) -> None:
        """Write the state to `path` (atomic: a temporary file, then a rename)."""
        tensors = {f"param.{k}": p.detach().contiguous().cpu() for k, p in self.params.items()}
        tensors |= {f"ema.{k}": v.contiguous().cpu() for k, v in self.ema.items()}
        names = {id(p): k for k, p in self.params.items()}
        for p, st in self.opt.state.items():
            for key in ("exp_avg", "exp_avg_sq"):
                tensors[f"opt.{names[id(p)]}.{key}"] = st[key].contiguous().cpu()
        for name, g in self.generators.items():
            tensors[f"rng.{name}"] = g.get_state()
        counters = {"step": self.step, "samples": self.samples, "seconds": self.seconds}
        metadata = {"counters": json.dumps(counters), "meta": json.dumps(meta)}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)

    def load(self, path: Path) -> dict:
        """Restore everything `save` wrote; returns the `meta` it was saved with."""
        saved = read_meta(path)
        counters = saved["counters"]
        tensors = load_file(str(path))
        with torch.no_grad():
            for k, p in self.params.items():
                p.copy_(tensors[f"param.{k}"])
                self.ema[k] = tensors[f"ema.{k}"].float().clone()
        self.step, self.samples = counters["step"], counters["samples"]
        self.seconds = counters["seconds"]
        for k, p in self.params.items():
            if f"opt.{k}.exp_avg" in tensors:
                self.opt.state[p] = {
                    "step": torch.tensor(float(self.step)),
                    "exp_avg": tensors[f"opt.{k}.exp_avg"].clone(),
                    "exp_avg_sq": tensors[f"opt.{k}.exp_avg_sq"].clone(),
                }
        for name, g in self.generators.items():
            g.set_state(tensors[f"rng.{name}"])
        return saved["meta"]


def write_milestone(state_path: Path, out: Path, stage: str) -> dict:
    """A saved state's EMA weights in float16, with its counters, to `out` (a milestone to
    commit: no optimiser state, a quarter of the state's size). Returns the counters."""
    counters = read_meta(state_path)["counters"]
    tensors = load_file(str(state_path))
    ema = {k[4:]: v.half().contiguous() for k, v in tensors.items() if k.startswith("ema.")}
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"counters": json.dumps(counters), "stage": json.dumps(stage)}
    save_file(ema, str(out), metadata=metadata)
    return counters


def read_meta(path: Path) -> dict:
    """The metadata of a saved state or milestone, each value parsed from JSON: "counters"
    ({"step", "samples", "seconds"}) and "meta" (the stage's settings) or "stage"; {} for a file
    written without metadata (a stage's final weights)."""
    with safe_open(str(path), framework="pt") as f:
        return {k: json.loads(v) for k, v in (f.metadata() or {}).items()}


class SessionClock:
    """When to save and when to stop.

    session_minutes: stop after the first step that ends past this budget (None: never).
    save_minutes: `save_due()` turns true this long after the last save (<= 10, as promised).
    After `handle_signals()`, SIGTERM / SIGINT set `stopping` instead of killing the process:
    the loop saves and returns.
    """

    def __init__(self, session_minutes: float | None, save_minutes: float = 8.0):
        self.start = time.monotonic()
        self.last_save = self.start
        self.session_s = None if session_minutes is None else session_minutes * 60
        self.save_s = save_minutes * 60
        self.signalled = False

    def handle_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.signalled = True

    @property
    def stopping(self) -> bool:
        over = self.session_s is not None and time.monotonic() - self.start >= self.session_s
        return over or self.signalled

    def save_due(self) -> bool:
        return time.monotonic() - self.last_save >= self.save_s

    def saved(self) -> None:
        self.last_save = time.monotonic()


def recipe_json(x):
    """A recipe's `asdict` as the state's metadata holds it: tuples become lists, so a saved
    recipe and a fresh one compare equal."""
    if isinstance(x, dict):
        return {k: recipe_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [recipe_json(v) for v in x]
    return x
