"""The supervisor runs services as child processes: readiness, restarts, ordered stop."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest
from fixtures_stack.probes import events, first, standins
from fixtures_stack.standin import CRASH_EXIT_CODE

from interforces.stack.supervisor import (
    RestartPolicy,
    ServicesNotReadyError,
    ServiceState,
    ServiceStatus,
    stop_waves,
)

from .conftest import MakeSupervisor

pytestmark = pytest.mark.unit


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_upstream_services_stop_first_and_the_timeline_last() -> None:
    # given the services' names in their declared order
    names = ["timeline", "coordinator", "police_nationale", "mediation"]
    # when they are grouped for stopping
    waves = stop_waves(names)
    # then the agencies go together, then the coordinator, then the timeline
    assert waves == [["police_nationale", "mediation"], ["coordinator"], ["timeline"]]


def test_restart_pauses_double_up_to_their_ceiling() -> None:
    policy = RestartPolicy(backoff_initial_s=0.5, backoff_max_s=3.0)
    assert [policy.backoff_s(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_services_start_ready_with_their_own_name_and_log(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    # given three stand-in services
    changes: list[ServiceStatus] = []
    supervisor = make_supervisor(
        standins("timeline", "coordinator", "alpha"), on_change=changes.append
    )
    # when they are started
    await supervisor.start(ready_timeout_s=30)
    # then each runs, is ready, knows its name and writes to its own log
    for status in supervisor.statuses():
        assert status.state is ServiceState.READY
        assert status.pid is not None
        assert psutil.pid_exists(status.pid)
        assert status.log == tmp_path / "logs" / f"{status.name}.log"
        assert f"{status.name} ready" in status.log.read_text()
        env = json.loads((tmp_path / f"{status.name}.env.json").read_text())
        assert env["IFC_SERVICE_NAME"] == status.name
        seen = [c.state for c in changes if c.name == status.name]
        assert seen == [ServiceState.STARTING, ServiceState.READY]


async def test_a_crashed_service_is_restarted_with_a_new_process(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    # given a service that crashes on its first two starts
    supervisor = make_supervisor(standins("alpha"), behaviour={"alpha": {"crashes": 2}})
    # when it is supervised
    await supervisor.start(ready_timeout_s=30)
    await supervisor.wait_until(
        lambda: (s := supervisor.status("alpha")).restarts == 2 and s.state is ServiceState.READY,
        timeout_s=30,
    )
    # then it was restarted twice, each time as a new process, and now stays up
    status = supervisor.status("alpha")
    assert status.last_exit_code == CRASH_EXIT_CODE
    started = [e.pid for e in events(tmp_path) if e.what == "started"]
    assert len(started) == len(set(started)) == 3
    assert status.pid == started[-1]


async def test_a_service_crashing_too_often_is_reported_failed(
    make_supervisor: MakeSupervisor,
) -> None:
    # given a service that always crashes before it is ready, and two restarts a minute
    policy = RestartPolicy(max_restarts=2, window_s=60, backoff_initial_s=0.05)
    supervisor = make_supervisor(
        standins("alpha", "beta"),
        behaviour={"alpha": {"crashes": 99, "never_ready": True}},
        policy=policy,
    )
    # when the services are started
    with pytest.raises(ServicesNotReadyError) as raised:
        await supervisor.start(ready_timeout_s=30)
    # then it is given up after its two restarts, and named with its log
    failed = raised.value.services["alpha"]
    assert failed.state is ServiceState.FAILED
    assert failed.restarts == 2
    assert failed.last_exit_code == CRASH_EXIT_CODE
    assert str(failed.log) in str(raised.value)
    beta = raised.value.services.get("beta")
    assert beta is None or beta.state is not ServiceState.FAILED


async def test_a_service_never_ready_is_reported_after_the_timeout(
    make_supervisor: MakeSupervisor,
) -> None:
    # given a service that runs but never answers as ready
    supervisor = make_supervisor(standins("alpha"), behaviour={"alpha": {"never_ready": True}})
    # when the start waits half a second
    with pytest.raises(ServicesNotReadyError) as raised:
        await supervisor.start(ready_timeout_s=0.5)
    # then it is reported still starting
    assert raised.value.services["alpha"].state is ServiceState.STARTING


async def test_stop_drains_downstream_last(make_supervisor: MakeSupervisor, tmp_path: Path) -> None:
    # given agencies that take a while to drain, a coordinator and a timeline
    supervisor = make_supervisor(
        standins("timeline", "coordinator", "alpha", "beta"),
        behaviour={"alpha": {"drain_s": 0.3}, "coordinator": {"drain_s": 0.2}},
    )
    await supervisor.start(ready_timeout_s=30)
    pids = [s.pid for s in supervisor.statuses()]
    # when the supervisor stops
    await supervisor.stop()
    # then the agencies have exited before the coordinator is told, and it before the timeline
    coordinator_term = first(tmp_path, "coordinator", "term").ns
    assert first(tmp_path, "alpha", "exit").ns < coordinator_term
    assert first(tmp_path, "beta", "exit").ns < coordinator_term
    assert first(tmp_path, "coordinator", "exit").ns < first(tmp_path, "timeline", "term").ns
    assert all(s.state is ServiceState.STOPPED for s in supervisor.statuses())
    assert all(pid is not None and _gone(pid) for pid in pids)


async def test_a_service_ignoring_sigterm_is_killed_after_the_grace_period(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    # given a service that ignores SIGTERM, and a grace period of 0.3 s
    supervisor = make_supervisor(
        standins("alpha"), behaviour={"alpha": {"ignore_sigterm": True}}, stop_grace_s=0.3
    )
    await supervisor.start(ready_timeout_s=30)
    pid = supervisor.status("alpha").pid
    assert pid is not None
    # when the supervisor stops
    began = time.monotonic()
    await supervisor.stop()
    # then it was killed soon after the grace period, without ever exiting by itself
    assert time.monotonic() - began < 5
    assert _gone(pid)
    assert supervisor.status("alpha").last_exit_code == -9
    assert supervisor.status("alpha").state is ServiceState.STOPPED
    assert not [e for e in events(tmp_path) if e.what == "exit"]
