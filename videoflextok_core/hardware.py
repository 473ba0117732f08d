"""What this machine can do, detected, never assumed: the CPU's model and vector / matrix units,
torch's build, the GPU, and how fast it multiplies matrices right now. Benchmarks print
`describe()` in their header.

    >>> cpu_info().bf16_matmul      # True where torch runs bf16 matmuls on AMX / AVX-512-BF16
    >>> matmul_flops_per_second("cpu") / 1e9    # e.g. 120: float32 GFLOP/s of this CPU, now
    >>> print(describe())
    CPU AMD EPYC (2 cores, 2 torch threads); AVX2, FMA, no AVX-512, no bf16 units | torch ...
    (AVX2) | no CUDA
"""

import os
import platform
import statistics
import time
from dataclasses import dataclass
from functools import lru_cache

import torch

# /proc/cpuinfo flags worth naming, in the order they are printed
_FEATURES = (
    ("avx2", "AVX2"),
    ("fma", "FMA"),
    ("avx512f", "AVX-512"),
    ("avx512_bf16", "AVX-512-BF16"),
    ("amx_tile", "AMX"),
    ("amx_bf16", "AMX-BF16"),
)


@dataclass(frozen=True)
class CpuInfo:
    model: str  # "model name" of /proc/cpuinfo, else platform.processor()
    flags: frozenset[str]  # /proc/cpuinfo flags (empty where there is none)
    torch_capability: str  # torch.backends.cpu.get_cpu_capability(): "AVX2", "AVX512", ...
    threads: int  # torch.get_num_threads()
    torch_bf16: bool  # torch's oneDNN runs bf16 here (also true, emulated, on plain AVX-512)
    torch_amx: bool  # torch can use AMX tiles here (the kernel granted them)

    @property
    def bf16_matmul(self) -> bool:
        """bf16 matrix units that torch uses: oneDNN's bf16 kernels and AMX, or the CPU's
        AVX-512-BF16 / AMX-BF16 flags (bf16 matmuls then run several times float32)."""
        units = self.torch_amx or bool({"amx_bf16", "avx512_bf16"} & self.flags)
        return self.torch_bf16 and units

    @property
    def features(self) -> list[str]:
        return [name for flag, name in _FEATURES if flag in self.flags]


@lru_cache(maxsize=1)
def _proc_cpuinfo() -> tuple[str, frozenset[str]]:
    model, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = frozenset(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model, flags


@lru_cache(maxsize=1)
def _torch_bf16() -> tuple[bool, bool]:
    """(oneDNN bf16 kernels, AMX usable), asked of torch once (private APIs: False if absent)."""
    try:
        bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        bf16 = False
    try:
        amx = bool(torch._C._cpu._init_amx())
    except (AttributeError, RuntimeError):
        amx = False
    return bf16, amx


def cpu_info() -> CpuInfo:
    model, flags = _proc_cpuinfo()
    bf16, amx = _torch_bf16()
    return CpuInfo(
        model=model or platform.processor() or platform.machine() or "unknown CPU",
        flags=flags,
        torch_capability=torch.backends.cpu.get_cpu_capability(),
        threads=torch.get_num_threads(),
        torch_bf16=bf16,
        torch_amx=amx,
    )


def describe() -> str:
    """One line: CPU model, threads and units; torch version and its CPU kernels; the GPU."""
    c = cpu_info()
    units = ", ".join(c.features) or "no AVX2"
    if "avx512f" not in c.flags:
        units += ", no AVX-512"
    units += ", bf16 matmuls in torch" if c.bf16_matmul else ", no bf16 units"
    cores = os.cpu_count()
    gpu = "no CUDA"
    if torch.cuda.is_available():
        gpu = f"CUDA {torch.cuda.get_device_name(0)}"
    return (
        f"CPU {c.model} ({cores} cores, {c.threads} torch threads); {units} | "
        f"torch {torch.__version__} ({c.torch_capability}) | {gpu}"
    )


def matmul_flops_per_second(
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    n: int | None = None,
    seconds: float = 0.05,
) -> float:
    """FLOP/s of n x n matmuls on `device` in `dtype`, measured now: the median of the products
    timed over about `seconds` (at least 5, after one untimed), so it reflects what else the
    machine is doing at the moment. n: 512 on a CPU (a few ms per product), 4096 on CUDA."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    n = n or (4096 if cuda else 512)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)

    def product() -> float:
        t0 = time.perf_counter()
        a @ b
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    product()
    times, end = [], time.perf_counter() + seconds
    while len(times) < 5 or time.perf_counter() < end:
        times.append(product())
    return 2 * n**3 / statistics.median(times)
