"""Small facts a compare run records about itself: the grid's short name, the hardware, the time.
Shared by `egcfg compare` (cli/compare.py) and its run loop (cli/compare_run.py)."""
from __future__ import annotations

import hashlib
import os
import platform
import time
from pathlib import Path


def grid_name(spec: str) -> str:
    """A short name for the grid: the YAML file's stem, a shipped grid's name, the single config,
    or "custom-<hash>" for a list of configs."""
    p = Path(spec)
    if p.suffix in (".yaml", ".yml"):
        return p.stem
    if "," not in spec and "/" not in spec and len(spec) <= 60:
        return spec
    return "custom-" + hashlib.sha256(spec.encode()).hexdigest()[:8]


def device_info(device: str, workers: int, world: int = 1) -> str:
    """A short description of the hardware a run used."""
    if device.startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(torch.device(device))
        return f"GPU: {name}" + (f" x{world}" if world > 1 else "")
    cpu = platform.processor() or platform.machine()
    extra = f", {workers} workers" if workers > 1 else ""
    extra += f", {world} processes" if world > 1 else ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU: {cpu}, {cores} cores{extra}"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
