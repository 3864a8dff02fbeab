"""Choosing the torch device, and keeping torch's CPU threads sensible."""

from __future__ import annotations

import os

import torch

from core.generation.errors import DeviceUnavailable

# Torch threads on the CPU. The engine runs many small kernels; with two or more
# threads, OpenMP's spin-waiting made a whole run up to ten times slower whenever
# other processes (the web app, another worker) competed for the cores, while
# an idle machine gained little from them. Override with VORM_TORCH_THREADS.
DEFAULT_CPU_THREADS = 1

_threads_set = False


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; asking for CUDA without one is an input error."""
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


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so that stage timings are honest on CUDA."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
