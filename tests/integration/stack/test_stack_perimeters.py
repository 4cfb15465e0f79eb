"""The embedded stack with broker perimeters: nats-server runs the configuration generated
from the charter, each real service connects as its own broker user, and a unit's report
goes all the way to the police's own feed without the broker refusing anything."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
from unit.agency.builders import incident_reported, report_of

from contracts import subjects
from contracts.credentials import read_unit_key
from contracts.reports import ReportStatus
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from infra.nats.secrets import login_of, password_path
from infra.nats.users import OPERATOR, NatsLogin, units_user
from integration.agency.harness import send_report
from integration.jetstream import wait_for
from integration.security.conftest import FESTIVAL
from interforces.stack.services import SERVICES
from interforces.stack.stack import Stack, StackSettings, read_state
from interforces.stack.status import check_stack
from interforces.stack.supervisor import ServiceState
from services.agency.app import feed_durable

pytestmark = pytest.mark.integration

#: The coordinator, the police service and the crisis-cell API (the projector's start-up
#: connection, in services/timeline/handlers.py, does not take credentials yet).
SECURED = tuple(
    spec for spec in SERVICES if spec.name in {"coordinator", "police_nationale", "crisis-api"}
)


async def test_services_connect_as_their_own_users_and_nothing_is_refused(tmp_path: Path) -> None:
    # given the embedded stack enforcing the perimeters of the festival charter
    data_dir = tmp_path / "var"
    settings = StackSettings(
        data_dir=data_dir, charters=(FESTIVAL,), nats_auth=True, ready_timeout_s=120
    )
    stack = Stack(settings, services=SECURED)
    try:
        # when it starts
        state = await stack.start()
        # then every service is ready (it answered the operator's health request)
        assert state.nats_auth
        assert all(s.state is ServiceState.READY for s in state.services)
        assert password_path(stack.secrets_dir, "coordinator").exists()
        # and a broker without the credentials refuses anybody
        with pytest.raises(nats.errors.Error):
            await nats.connect(stack.nats_url, allow_reconnect=False, max_reconnect_attempts=0)
        # and `status` asks as the operator and finds everything up
        on_disk = read_state(data_dir)
        assert on_disk is not None
        health = await check_stack(on_disk, database_url=stack.database_url)
        assert health.healthy, health.as_dict()

        # when a police unit, with its own credentials, reports a theft
        police = Agency.POLICE_NATIONALE
        units = login_of(stack.secrets_dir, units_user(police, Mode.LIVE))
        field = await nats.connect(stack.nats_url, **units.connect_options())
        operator = await nats.connect(stack.nats_url, **_operator(stack).connect_options())
        try:
            report = report_of(
                read_unit_key(stack.secrets_dir, police), police, incident_reported()
            )
            ack = await send_report(field, report, police)
            # then its service proposed it, the coordinator recorded it, and the police
            # service consumed the copy in its own feed (FastStream, through the borrowed
            # JetStream API)
            assert ack.status is ReportStatus.PROPOSED
            js = operator.jetstream()
            timeline = subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)
            feeds = subjects.stream_name(Mode.LIVE, StreamRole.FEEDS)

            async def recorded() -> bool:
                return (await js.stream_info(timeline)).state.messages >= 1

            async def consumed() -> bool:
                info = await js.consumer_info(feeds, feed_durable(police, Mode.LIVE))
                return (info.ack_floor.stream_seq if info.ack_floor else 0) >= 1

            await wait_for(recorded, timeout_s=60)
            await wait_for(consumed, timeout_s=60)
        finally:
            await field.close()
            await operator.close()
        # and the broker refused nothing the services did
        log = (data_dir / "nats" / "nats-server.log").read_text()
        assert "Violation" not in log, [line for line in log.splitlines() if "Violation" in line]
    finally:
        await stack.stop()


def _operator(stack: Stack) -> NatsLogin:
    login = stack.operator_login
    assert login is not None
    assert login.user == OPERATOR
    return login
