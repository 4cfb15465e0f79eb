"""A data directory belongs to one launcher: a live one is refused, a dead one's processes
are ended before a new stack starts there."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from infra.streams import Profile
from interforces.stack.stack import (
    ServerRecord,
    ServiceRecord,
    StackAlreadyRunningError,
    StackState,
    end_leftovers,
)
from interforces.stack.supervisor import ServiceState, process_started_at

pytestmark = pytest.mark.unit


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two idle child processes standing for a launcher and a service."""
    processes = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)
    ]
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def _state(
    tmp_path: Path, launcher: int, launcher_started: datetime | None, service: int
) -> StackState:
    server = ServerRecord(name="nats-server", url="nats://127.0.0.1:1", embedded=False)
    return StackState(
        data_dir=tmp_path,
        launcher_pid=launcher,
        launcher_started_at=launcher_started,
        started_at=datetime.now(UTC),
        stream_profile=Profile.SINGLE,
        streams=(),
        secrets_dir=tmp_path / "secrets",
        charters=(),
        nats=server,
        postgres=server.model_copy(update={"name": "postgresql"}),
        services=(
            ServiceRecord(
                name="alpha",
                module="alpha",
                state=ServiceState.READY,
                pid=service,
                started_at=process_started_at(service),
                log=tmp_path / "alpha.log",
            ),
        ),
    )


def test_a_live_launcher_keeps_its_data_directory(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    # given a stack recorded by a launcher that still runs
    launcher, service = sleepers
    state = _state(tmp_path, launcher.pid, process_started_at(launcher.pid), service.pid)
    # when another stack would start there, then it is refused and nothing is touched
    with pytest.raises(StackAlreadyRunningError):
        end_leftovers(state)
    assert service.poll() is None


def test_a_dead_launchers_services_are_ended(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    # given a stack whose launcher died without stopping its service
    launcher, service = sleepers
    started = process_started_at(launcher.pid)
    launcher.kill()
    launcher.wait()
    state = _state(tmp_path, launcher.pid, started, service.pid)
    # when a new stack starts there
    end_leftovers(state)
    # then the leftover service is gone
    assert service.wait(5) is not None


def test_a_reused_pid_is_left_alone(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    # given a record whose service pid now names another process (other start time)
    launcher, service = sleepers
    launcher.kill()
    launcher.wait()
    state = _state(tmp_path, launcher.pid, None, service.pid)
    record = state.services[0].model_copy(update={"started_at": datetime(2000, 1, 1, tzinfo=UTC)})
    # when a new stack starts there, then that process is not touched
    end_leftovers(state.model_copy(update={"services": (record,)}))
    assert psutil.Process(service.pid).is_running()
    assert service.poll() is None
