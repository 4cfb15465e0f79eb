"""Supervisors of stand-in services, stopped after each test."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from fixtures_stack.probes import FileProbe

from interforces.stack.services import ServiceSpec
from interforces.stack.supervisor import RestartPolicy, ServiceStatus, Supervisor

#: Restarts quickly so that tests take fractions of a second.
FAST = RestartPolicy(max_restarts=5, window_s=60.0, backoff_initial_s=0.05, backoff_max_s=0.2)


class MakeSupervisor(Protocol):
    def __call__(
        self,
        specs: Sequence[ServiceSpec],
        *,
        behaviour: Mapping[str, Mapping[str, Any]] | None = None,
        policy: RestartPolicy = FAST,
        stop_grace_s: float = 5.0,
        on_change: Callable[[ServiceStatus], None] | None = None,
    ) -> Supervisor: ...


@pytest.fixture
async def make_supervisor(tmp_path: Path) -> AsyncIterator[MakeSupervisor]:
    """Builds supervisors whose stand-ins report ready by file; stops them all afterwards."""
    made: list[Supervisor] = []

    def make(
        specs: Sequence[ServiceSpec],
        *,
        behaviour: Mapping[str, Mapping[str, Any]] | None = None,
        policy: RestartPolicy = FAST,
        stop_grace_s: float = 5.0,
        on_change: Callable[[ServiceStatus], None] | None = None,
    ) -> Supervisor:
        env = {
            **os.environ,
            "NATS_URL": "nats://127.0.0.1:9",
            "STANDIN_DIR": str(tmp_path),
            "STANDIN_BEHAVIOUR": json.dumps(behaviour or {}),
        }
        supervisor = Supervisor(
            specs,
            env=env,
            log_dir=tmp_path / "logs",
            probe=FileProbe(tmp_path),
            policy=policy,
            stop_grace_s=stop_grace_s,
            on_change=on_change,
            poll_interval_s=0.02,
        )
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        await supervisor.stop()
