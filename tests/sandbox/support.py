"""Shared helpers for the sandbox tests: tracer parametrisation and leftover-process checks.

Import the fixtures into a test module (`from tests.sandbox.support import tracer_impl`).
"""
from __future__ import annotations

import os
import sys

import psutil
import pytest

TRACER_IMPLS = ["settrace"] + (["sysmon"] if sys.version_info >= (3, 12) else [])


@pytest.fixture(params=TRACER_IMPLS)
def tracer_impl(request) -> str:
    """Each tracer implementation this Python has: settrace, and sysmon on 3.12+."""
    return request.param


def sandbox_processes() -> list[psutil.Process]:
    """Live processes started by this test process's sandbox: the server and its children
    (they start with the server's EGCFG_SANDBOX_OWNER=<our token> environment entry)."""
    from sandbox import runner
    owner = runner.owner_token()
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get("EGCFG_SANDBOX_OWNER") == owner:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def own_children() -> list[psutil.Process]:
    """All descendants of this process, zombies included."""
    return psutil.Process().children(recursive=True)


def snapshot(directory: str) -> dict[str, tuple[int, int]]:
    """name -> (size, mtime_ns) for everything under `directory` (no .pytest_cache / __pycache__)."""
    out = {}
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".pytest_cache", ".git", ".venv", ".venv312")]
        for name in files:
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            out[os.path.relpath(path, directory)] = (st.st_size, st.st_mtime_ns)
    return out
