"""The precision a model runs in: a setting ("auto", "fp32", "bf16") resolved once for a device
and the model's weight dtype into what runs and why.

    from videoflextok_core.model.precision import Precision
    p = Precision.resolve("auto", "cpu", torch.float32)
    p.runs, p.why        # ("bf16", "the CPU has bf16 matmul units (AVX-512-BF16)") or ("fp32", ...)
    str(p)               # "bf16 autocast (auto: the CPU has bf16 matmul units (AVX-512-BF16))"
    with p.decoding():   # bf16 autocast where p.runs == "bf16", else nothing
        ...

bf16 means `torch.autocast(device, torch.bfloat16)` over float32 weights (or bf16 weights,
`from_pretrained(dtype=torch.bfloat16)`): matmuls and convolutions run in bf16 while the float32
islands stay float32 like upstream (LayerNorm, VidTok's norms, FSQ, the sampler update, APG's
projection). Tokenize always runs in float32 when the weights are float32, whatever the
setting: bf16 moved 2.2-4.7 % of the demo model's token ids (measured on real clips), and ids
must not depend on the machine that made them; it is one pass per clip.
"""

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch

from ..hardware import CpuInfo, cpu_info

PRECISIONS = ("auto", "fp32", "bf16")  # the settings
PRECISION_HELP = (  # --precision of the app and every CLI command
    "auto (default): bf16 autocast on CUDA and on CPUs with bf16 matmul units (AMX, "
    "AVX-512-BF16), else float32; tokenize always runs float32"
)
WEIGHT_DTYPES = (torch.float32, torch.bfloat16, torch.float64)  # float64: reference runs


@dataclass(frozen=True)
class Precision:
    """A precision setting resolved for one device and weight dtype."""

    asked: str  # "auto", "fp32" or "bf16"; "default" when none was given (see `resolve`)
    runs: str  # what matmuls / convolutions of a decode run in: "fp32" or "bf16" (autocast)
    why: str  # for a person: why `runs` follows from `asked` here
    device_type: str  # "cpu", "cuda", ...
    weights: torch.dtype  # the model's parameter dtype

    @classmethod
    def resolve(
        cls,
        asked: str | None,
        device: str | torch.device,
        weights: torch.dtype = torch.float32,
        cpu: CpuInfo | None = None,
    ) -> "Precision":
        """What `asked` means on `device` with `weights`-dtype parameters.

        asked: "auto" (bf16 autocast on CUDA and on CPUs whose torch reports bf16 matmul units,
            AMX or AVX-512-BF16; float32 elsewhere), "fp32", "bf16", or None, the library's
            default: "auto" on CUDA (as the official notebook), float32 on a CPU (so that
            library results are the same on every CPU).
        cpu: the CPU's facts (default: detected, `hardware.cpu_info()`).
        Raises ValueError for an unknown setting, weights in another dtype, or a setting the
        weights cannot run (bf16 weights need "bf16"; float64 weights "fp32").
        """
        device_type = torch.device(device).type
        if asked is not None and asked not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {asked!r}")
        if weights not in WEIGHT_DTYPES:
            raise ValueError(
                f"weights in {weights} cannot run: use float32 (any precision) or bfloat16 "
                "(precision 'bf16'); checkpoint files in float16 / bfloat16 are cast on load"
            )
        name = str(weights).removeprefix("torch.")
        if weights == torch.bfloat16:
            if asked == "fp32":
                raise ValueError(
                    "precision 'fp32' needs float32 weights, the model's are bfloat16 (loaded "
                    "with dtype=torch.bfloat16): pass precision='bf16' or load without dtype"
                )
            why = "asked" if asked == "bf16" else "the weights are bfloat16"
            return cls(asked or "default", "bf16", why, device_type, weights)
        if weights == torch.float64:
            if asked == "bf16":
                raise ValueError("precision 'bf16' cannot run float64 weights; use 'fp32'")
            return cls(asked or "default", "fp32", f"the weights are {name}", device_type, weights)
        if asked in ("fp32", "bf16"):
            return cls(asked, asked, "asked", device_type, weights)
        if device_type == "cuda":
            return cls(asked or "default", "bf16", "CUDA", device_type, weights)
        if asked is None:
            why = "the library's default on a CPU (the same results on every CPU)"
            return cls("default", "fp32", why, device_type, weights)
        if device_type != "cpu":
            return cls(asked, "fp32", f"no bf16 autocast on {device_type}", device_type, weights)
        cpu = cpu or cpu_info()
        if cpu.bf16_matmul:
            units = "/".join(f for f in cpu.features if "BF16" in f) or "AMX"
            return cls(asked, "bf16", f"the CPU has bf16 matmul units ({units})", "cpu", weights)
        return cls(asked, "fp32", "the CPU has no bf16 matmul units", "cpu", weights)

    @property
    def tokenize_runs(self) -> str:
        """What tokenize runs in: float32 unless the weights are bf16 (see the module doc)."""
        return "bf16" if self.weights == torch.bfloat16 else "fp32"

    @property
    def label(self) -> str:
        """Short name for files and keys: "fp32", "fp64", "bf16-autocast" (float32 weights
        under bf16 autocast) or "bf16" (bf16 weights)."""
        if self.weights == torch.bfloat16:
            return "bf16"
        if self.weights == torch.float64:
            return "fp64"
        return "bf16-autocast" if self.runs == "bf16" else "fp32"

    def decoding(self) -> AbstractContextManager:
        """The context a decode runs in: bf16 autocast where `runs` is "bf16"."""
        return self._autocast(self.runs)

    def tokenizing(self) -> AbstractContextManager:
        """The context tokenize runs in: float32 unless the weights are bf16."""
        return self._autocast(self.tokenize_runs)

    def _autocast(self, runs: str) -> AbstractContextManager:
        if runs == "bf16":
            return torch.autocast(self.device_type, dtype=torch.bfloat16)
        return nullcontext()

    def __str__(self) -> str:
        what = {"bf16-autocast": "bf16 autocast", "bf16": "bf16 weights"}.get(
            self.label, self.label
        )
        return f"{what} ({self.asked}: {self.why})"


__all__ = ["PRECISIONS", "PRECISION_HELP", "Precision"]
