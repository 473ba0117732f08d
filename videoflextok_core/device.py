"""Which torch device to run on, checked before a model is built on it."""

import torch


def default_device(cuda_available: bool | None = None) -> str:
    """The default device: "cuda" when a GPU is there (also on a ZeroGPU Space), else "cpu"."""
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    return "cuda" if cuda_available else "cpu"


def check_device(device: str) -> str:
    """`device` if torch can use it here, else ValueError naming it (the app and the CLI)."""
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as e:
        reason = str(e).splitlines()[0]
        raise ValueError(f"device {device!r} is not usable here ({reason})") from None
    return device
