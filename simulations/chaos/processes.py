"""The services of a fault scenario as real processes (`python -m services.…`), run by the
stack's own supervisor, which restarts a killed one as it would in production.

`kill` is a real `kill -9` of the service's process; `back` waits until the supervisor has
started it again and the new process answers its health subject. Several instances of one
service (`SECOND_PROJECTOR`) answer the same health subject: `InstancesProbe` listens to
every answer for the one from the process it waits for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence

from nats.aio.client import Client
from nats.errors import Error as NatsError
from pydantic import ValidationError

from contracts.vocabulary import Agency
from interforces.stack.services import SERVICES, ServiceSpec
from interforces.stack.stack import Stack
from interforces.stack.supervisor import RestartPolicy, ServiceState, Supervisor, connect_once
from services.runtime.health import Health, health_subject

#: Settings of the services under test that differ from their defaults (besides serving the
#: charter's mode only, `mode_env`): JetStream redelivers what a killed instance held after
#: `ack_wait`, 5 s here instead of a minute (coordinator) or 30 s (projector), so that a
#: scenario ends within seconds. In production that wait is the longest an instance's death
#: delays its batch in hand.
SERVICE_ENV: Mapping[str, str] = {
    "IFC_COORDINATOR_ACK_WAIT_S": "5",
    "IFC_TIMELINE_ACK_WAIT_S": "5",
}
#: A killed service is started again at once (the supervisor's pause grows from there).
PROMPT_RESTART = RestartPolicy(max_restarts=10, backoff_initial_s=0.2, backoff_max_s=2.0)
#: The pipeline every scenario runs.
PIPELINE: tuple[str, ...] = ("coordinator", "timeline")
#: A second coordinator and a second projector sharing the first ones' durable consumers:
#: each stands by until it holds the consumer's lease (the failover scenarios).
SECOND_COORDINATOR = ServiceSpec("coordinator-2", "services.coordinator")
SECOND_PROJECTOR = ServiceSpec("timeline-2", "services.timeline", needs_database=True)
#: Health subject each supervised name answers on, when not its own name.
HEALTH_NAMES: Mapping[str, str] = {
    SECOND_COORDINATOR.name: "coordinator",
    SECOND_PROJECTOR.name: "timeline",
}


def service_specs(
    agency: Agency | None = None, *, extra: Sequence[ServiceSpec] = ()
) -> tuple[ServiceSpec, ...]:
    """The coordinator and the projector, `agency`'s service when given, then `extra`."""
    wanted = {*PIPELINE, *((agency.value,) if agency is not None else ())}
    return (*(spec for spec in SERVICES if spec.name in wanted), *extra)


async def health_answers(nc: Client, service: str, window_s: float = 0.5) -> list[Health]:
    """Every answer to one health request of `service` heard within `window_s` (one per
    running instance)."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    answers: list[Health] = []
    try:
        await nc.publish(health_subject(HEALTH_NAMES.get(service, service)), b"", reply=inbox)
        deadline = time.monotonic() + window_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=left)
            except (NatsError, TimeoutError):
                break
            with contextlib.suppress(ValidationError):
                answers.append(Health.model_validate_json(msg.data))
    finally:
        with contextlib.suppress(NatsError):
            await sub.unsubscribe()
    return answers


class InstancesProbe:
    """Ready means: among the answers on the service's health subject, one comes from the
    process (the supervisor's own probe takes the first answer only). `servers` gives the
    NATS URL once known (an embedded server's port is chosen when it starts)."""

    def __init__(self, servers: Callable[[], str]) -> None:
        self._servers = servers
        self._nc: Client | None = None

    async def ready(self, service: str, pid: int) -> bool:
        """Whether process `pid` answers."""
        if self._nc is None or self._nc.is_closed:
            try:
                self._nc = await connect_once(self._servers(), "interforces-chaos-probe")
            except (NatsError, OSError, TimeoutError):
                return False
        try:
            answers = await health_answers(self._nc, service)
        except (TimeoutError, NatsError, OSError):
            return False
        return any(answer.pid == pid for answer in answers)

    async def close(self) -> None:
        """Close the connection."""
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = None


def mode_env(modes: Sequence[str]) -> dict[str, str]:
    """The variables restricting every service to `modes`."""
    value = "[" + ",".join(f'"{m}"' for m in modes) + "]"
    return {
        "IFC_COORDINATOR_MODES": value,
        "IFC_TIMELINE_MODES": value,
        "IFC_AGENCY_MODES": value,
    }


class Processes:
    """Kill and watch the supervised services of a started stack."""

    def __init__(self, stack: Stack) -> None:
        if stack.supervisor is None:
            raise RuntimeError("the stack is not started")
        self.supervisor: Supervisor = stack.supervisor

    def pid(self, name: str) -> int:
        """The running process of a service."""
        pid = self.supervisor.status(name).pid
        if pid is None:
            raise RuntimeError(f"{name} is not running")
        return pid

    def kill(self, name: str) -> int:
        """kill -9 the service's process; its pid."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        return pid

    async def back(self, name: str, killed_pid: int, timeout_s: float = 90.0) -> float:
        """Wait until another process of the service is ready; the seconds it took."""
        started = time.monotonic()

        def ready_again() -> bool:
            status = self.supervisor.status(name)
            return status.state is ServiceState.READY and status.pid not in (None, killed_pid)

        await self.supervisor.wait_until(ready_again, timeout_s)
        return time.monotonic() - started
