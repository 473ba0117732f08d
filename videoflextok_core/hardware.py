"""What this machine can do, detected, never assumed: the CPU's model and vector / matrix units,
torch's build, the GPU. Benchmarks print `describe()` in their header.

    >>> cpu_info().bf16_matmul      # True on CPUs with AMX-BF16 or AVX-512-BF16
    >>> print(describe())
    CPU AMD EPYC (2 cores, 2 torch threads); AVX2, FMA, no AVX-512, no bf16 units | torch ...
    (AVX2) | no CUDA
"""

import os
import platform
from dataclasses import dataclass

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

    @property
    def bf16_matmul(self) -> bool:
        """bf16 matrix units: AMX-BF16 or AVX-512-BF16 (bf16 matmuls several times float32)."""
        return bool({"amx_bf16", "avx512_bf16"} & self.flags)

    @property
    def features(self) -> list[str]:
        return [name for flag, name in _FEATURES if flag in self.flags]


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


def cpu_info() -> CpuInfo:
    model, flags = _proc_cpuinfo()
    return CpuInfo(
        model=model or platform.processor() or platform.machine() or "unknown CPU",
        flags=flags,
        torch_capability=torch.backends.cpu.get_cpu_capability(),
        threads=torch.get_num_threads(),
    )


def describe() -> str:
    """One line: CPU model, threads and units; torch version and its CPU kernels; the GPU."""
    c = cpu_info()
    units = ", ".join(c.features) or "no AVX2"
    if "avx512f" not in c.flags:
        units += ", no AVX-512"
    if not c.bf16_matmul:
        units += ", no bf16 units"
    cores = os.cpu_count()
    gpu = "no CUDA"
    if torch.cuda.is_available():
        gpu = f"CUDA {torch.cuda.get_device_name(0)}"
    return (
        f"CPU {c.model} ({cores} cores, {c.threads} torch threads); {units} | "
        f"torch {torch.__version__} ({c.torch_capability}) | {gpu}"
    )
