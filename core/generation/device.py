"""Choosing the torch device, and keeping torch's CPU threads sensible.

torch takes about a second to import, longer than a whole inflate on the CPU:
:func:`device_type` answers without it where it can (see there), and the
single-image modes run on NumPy when the answer is the CPU.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from core.generation.errors import DeviceUnavailable

if TYPE_CHECKING:
    import torch

# Torch threads on the CPU. The engine runs many small kernels; with two or more
# threads, OpenMP's spin-waiting made a whole run up to ten times slower whenever
# other processes (the web app, another worker) competed for the cores, while
# an idle machine gained little from them. Override with VORM_TORCH_THREADS.
DEFAULT_CPU_THREADS = 1

# Without one of these there is no GPU driver, so torch could not find CUDA (or ROCm) either.
GPU_DRIVER_PATHS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")

_threads_set = False


def _gpu_driver_present() -> bool:
    return any(os.path.exists(path) for path in GPU_DRIVER_PATHS)


def device_type(name: str) -> str:
    """``"cuda"`` or ``"cpu"`` for ``name`` (auto, cpu, cuda), importing torch only where it must.

    ``cpu`` needs no torch; ``auto`` asks torch only when torch is already loaded
    or a GPU driver is present; ``cuda`` always asks (and is an input error without one).
    """
    if name == "cpu" or (name == "auto" and "torch" not in sys.modules and not _gpu_driver_present()):
        return "cpu"
    return resolve_device(name).type


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; asking for CUDA without one is an input error."""
    import torch

    global _threads_set
    if not _threads_set:
        wanted = int(os.environ.get("VORM_TORCH_THREADS", DEFAULT_CPU_THREADS))
        torch.set_num_threads(max(1, min(wanted, os.cpu_count() or 1)))
        _threads_set = True
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise DeviceUnavailable()
        return torch.device("cuda")
    return torch.device("cpu")


def synchronize(device: torch.device | str) -> None:
    """Wait for queued kernels, so that stage timings are honest on CUDA."""
    if getattr(device, "type", device) == "cuda":
        import torch

        torch.cuda.synchronize(device)
