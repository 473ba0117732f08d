"""Hardware detection reads this machine (whatever its kind) and says what it found."""

import torch

from videoflextok_core.hardware import CpuInfo, cpu_info, describe, matmul_flops_per_second


def test_cpu_info_reads_this_machine():
    c = cpu_info()
    assert c.model and c.threads == torch.get_num_threads()
    assert c.torch_capability == torch.backends.cpu.get_cpu_capability()
    assert c.torch_bf16 == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    line = describe()
    assert c.model in line and torch.__version__ in line
    assert ("bf16 matmuls in torch" in line) == c.bf16_matmul
    assert ("no bf16 units" in line) != c.bf16_matmul


def test_bf16_units_need_the_cpu_flags_and_torch_kernels():
    base = dict(model="x", torch_capability="AVX2", threads=1, torch_amx=False)
    assert not CpuInfo(flags=frozenset({"avx2", "fma"}), torch_bf16=False, **base).bf16_matmul
    # plain AVX-512 (oneDNN emulates bf16 there: slower than float32) is not a bf16 unit
    assert not CpuInfo(flags=frozenset({"avx512f"}), torch_bf16=True, **base).bf16_matmul
    assert CpuInfo(flags=frozenset({"avx512f", "avx512_bf16"}), torch_bf16=True, **base).bf16_matmul
    assert CpuInfo(flags=frozenset({"amx_tile", "amx_bf16"}), torch_bf16=True, **base).bf16_matmul
    # a torch build without oneDNN bf16 kernels cannot use the units
    assert not CpuInfo(flags=frozenset({"amx_bf16"}), torch_bf16=False, **base).bf16_matmul
    # no /proc/cpuinfo (another OS): torch's AMX answer is enough
    amx = dict(base, torch_amx=True)
    assert CpuInfo(flags=frozenset(), torch_bf16=True, **amx).bf16_matmul
    assert CpuInfo(flags=frozenset({"amx_bf16"}), torch_bf16=True, **base).features == ["AMX-BF16"]


def test_matmul_rate_is_measured_here():
    """A 256^3 float32 product timed now: some FLOP/s, below what any CPU core could do (the
    bounds are wide: this machine may be busy with other work)."""
    rate = matmul_flops_per_second("cpu", n=256, seconds=0.01)
    assert 1e7 < rate < 1e13
