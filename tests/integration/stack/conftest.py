"""Helpers for the stack's integration tests: stand-in services and leftover processes."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil
import pytest

#: Charters the stand-ins are told about (they read none).
CHARTERS = Path(__file__).parents[3] / "infra" / "charters"


@pytest.fixture
def standin_env(tmp_path: Path) -> dict[str, str]:
    """The launcher's environment: stand-ins answer health over NATS, record under tmp."""
    return {**os.environ, "STANDIN_DIR": str(tmp_path), "STANDIN_PROBE": "nats"}


def alive(pids: Iterable[int | None]) -> list[int]:
    """The pids that still name a running (not zombie) process."""
    running = []
    for pid in pids:
        if pid is None:
            continue
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            continue
    return running


def mentioning(directory: Path) -> list[int]:
    """Processes whose command line names `directory` (nats-server, postgres)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(str(directory) in arg for arg in cmdline):
            found.append(process.info["pid"])
    return found


async def eventually(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait until `condition()` holds, polling until a deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout_s} s")
        await asyncio.sleep(0.05)
