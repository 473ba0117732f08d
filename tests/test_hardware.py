"""Hardware detection reads this machine (whatever its kind) and says what it found."""

import torch

from videoflextok_core.hardware import CpuInfo, cpu_info, describe


def test_cpu_info_reads_this_machine():
    c = cpu_info()
    assert c.model and c.threads == torch.get_num_threads()
    assert c.torch_capability == torch.backends.cpu.get_cpu_capability()
    line = describe()
    assert c.model in line and torch.__version__ in line


def test_bf16_units_follow_the_flags():
    base = dict(model="x", torch_capability="AVX2", threads=1)
    assert not CpuInfo(flags=frozenset({"avx2", "fma"}), **base).bf16_matmul
    assert CpuInfo(flags=frozenset({"avx512f", "avx512_bf16"}), **base).bf16_matmul
    assert CpuInfo(flags=frozenset({"amx_tile", "amx_bf16"}), **base).bf16_matmul
    assert CpuInfo(flags=frozenset({"amx_bf16"}), **base).features == ["AMX-BF16"]
