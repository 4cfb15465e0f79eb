"""The exercise wall, through a real nats-server and the real coordinator: whatever mix of
modes a proposal claims — its subject, its envelope, its operation — an exercise event never
reaches a live stream or feed, and a live event never reaches an exercise one. Only a
proposal whose subject, envelope and operation agree is accepted; any other is refused (and
that refusal is recorded in the stream of the subject it came on, for the crisis cell and
its publisher only)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from faststream import TestApp
from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.cloudevents import from_structured, to_structured
from contracts.envelope import Envelope
from contracts.events.violations import PerimeterViolated
from contracts.routing import EXERCISE_HEADER, EXERCISE_MARK, MSG_ID_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from integration.jetstream import count, read_all, wait_for
from services.coordinator.app import build_app, durable_name
from services.coordinator.settings import CoordinatorSettings
from simulations.exercise.charter import control_unit, exercise_charter, write_charter
from simulations.exercise.injects import ControlDesk, control_envelope
from simulations.field.desk import desk_envelope

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
LIVE_CHARTER = ROOT / "infra/charters/fete-musique-presquile.yaml"
LIVE_OP = "fete-musique-2026-lyon-presquile"
DRILL_OP = "fete-musique-mur-s1-000001"
AT = load_charter(LIVE_CHARTER).operation.window.start + timedelta(hours=3)
CAUGHT = ("mode_mismatch", "wrong_operation", "exercise_only", "alert_status_mode_mismatch")


@dataclass(frozen=True, slots=True)
class Attempt:
    """A proposal published on some mode's subject, for some operation, in some mode."""

    envelope: Envelope
    subject_mode: Mode

    @property
    def agrees(self) -> bool:
        """Subject, envelope and operation all in one mode."""
        operation_mode = Mode.LIVE if self.envelope.operation == LIVE_OP else Mode.EXERCISE
        return self.subject_mode is self.envelope.mode is operation_mode


def _decision(key: str, operation: str, mode: Mode) -> Envelope:
    event = {
        "type": "fr.interforces.crisis_cell.decision_logged",
        "decision": f"décision {key}",
        "authority": "PC Hôtel de Ville",
    }
    return desk_envelope(mode, operation, key, AT, event, subject=key)


def _alert(key: str, operation: str, mode: Mode, status: str) -> Envelope:
    area = load_charter(LIVE_CHARTER).sectors[0].geometry.model_dump(mode="json")
    event = {
        "type": "fr.interforces.public_alert.issued",
        "status": status,
        "msg_type": "Alert",
        "category": "Safety",
        "event": "Essai",
        "urgency": "Immediate",
        "severity": "Minor",
        "certainty": "Observed",
        "headline": f"alerte {key}",
        "instruction": "Aucune",
        "area_desc": "Terreaux",
        "area": area,
        "position": {"lon": 4.8334, "lat": 45.7675},
    }
    return desk_envelope(mode, operation, key, AT, event)


def attempts(drill_unit: str | None) -> list[Attempt]:
    """Every mix of subject mode, envelope mode and operation, and the mode-bound events:
    public alerts of each CAP status in each mode, and injects in each mode."""
    out = []
    for index, (subject_mode, mode, operation) in enumerate(
        itertools.product(Mode, Mode, (LIVE_OP, DRILL_OP))
    ):
        out.append(Attempt(_decision(f"mix-{index}", operation, mode), subject_mode))
    for mode, operation in ((Mode.LIVE, LIVE_OP), (Mode.EXERCISE, DRILL_OP)):
        for status in ("Actual", "Exercise"):
            out.append(Attempt(_alert(f"alert-{mode}-{status}", operation, mode, status), mode))
    inject = {
        "type": "fr.interforces.exercise.injected",
        "inject": "INJ-MUR",
        "target": "police_municipale",
        "message": "message d'exercice",
    }
    drill = control_envelope(DRILL_OP, "inj-mur", AT, inject, unit=drill_unit)
    out.append(Attempt(drill, Mode.EXERCISE))
    live = {"operation": LIVE_OP, "mode": Mode.LIVE, "id": f"{drill.id}-live"}
    out.append(Attempt(drill.model_copy(update=live), Mode.LIVE))
    return out


def _subject(attempt: Attempt) -> str:
    envelope = attempt.envelope
    return subjects.proposal(
        attempt.subject_mode, envelope.operation, envelope.agency, envelope.type
    )


@pytest.fixture
async def coordinator(nats_url: str, tmp_path: Path) -> AsyncIterator[Path]:
    """A coordinator serving both modes, with the live festival and an exercise copy of it."""
    drill = write_charter(exercise_charter(load_charter(LIVE_CHARTER), DRILL_OP), tmp_path)
    settings = CoordinatorSettings(
        nats_url=nats_url,
        charters=(LIVE_CHARTER, drill),
        coordinator_modes=(Mode.LIVE, Mode.EXERCISE),
        coordinator_batch_size=8,
        coordinator_batch_timeout_s=0.05,
    )
    app, _ = build_app(settings)
    async with TestApp(app):
        yield drill


async def _settled(client: Client) -> bool:
    js = client.jetstream()
    for mode in Mode:
        info = await js.consumer_info(
            subjects.stream_name(mode, StreamRole.PROPOSALS), durable_name(mode)
        )
        if info.num_pending or info.num_ack_pending:
            return False
    return True


async def _everything(client: Client) -> dict[tuple[Mode, StreamRole], list[Msg]]:
    return {
        (mode, role): await read_all(client, subjects.stream_name(mode, role))
        for mode in Mode
        for role in (StreamRole.TIMELINE, StreamRole.FEEDS)
    }


async def test_no_event_crosses_the_wall_either_way(client: Client, coordinator: Path) -> None:
    # given every mix of modes proposed to a coordinator serving both
    tried = attempts(control_unit(load_charter(coordinator)))
    js = client.jetstream()
    for attempt in tried:
        await js.publish(
            _subject(attempt),
            to_structured(attempt.envelope),
            headers={MSG_ID_HEADER: attempt.envelope.id},
        )

    # when it has decided them all (each ends as exactly one timeline record)
    async def decided() -> bool:
        held = 0
        for mode in Mode:
            held += await count(client, subjects.stream_name(mode, StreamRole.TIMELINE))
        return held >= len(tried) and await _settled(client)

    await wait_for(decided)
    streams = await _everything(client)

    # then every record and every copy sits in the streams of its own mode, on its own
    # mode's subjects, and says that mode
    records: dict[str, tuple[Mode, Envelope]] = {}
    for (mode, role), messages in streams.items():
        for msg in messages:
            envelope = from_structured(msg.data)
            assert msg.subject.startswith(f"ifc.{mode.value}."), msg.subject
            assert envelope.mode is mode, (role, msg.subject)
            if role is StreamRole.TIMELINE:
                records[msg.headers["Ifc-Proposal"] if msg.headers else envelope.id] = (
                    mode,
                    envelope,
                )
    assert len(records) == len(tried)
    # only proposals whose subject, envelope and operation agree are accepted, each in its
    # own mode; every other is refused, with the wall's reasons, in its subject's stream
    for attempt in tried:
        mode, record = records[attempt.envelope.id]
        assert mode is attempt.subject_mode
        refused = isinstance(record.data, PerimeterViolated)
        status = getattr(attempt.envelope.data, "status", None)
        wrong_alert = status is not None and (status == "Exercise") != (
            attempt.envelope.mode is Mode.EXERCISE
        )
        live_inject = attempt.envelope.type.endswith("exercise.injected") and (
            attempt.envelope.mode is Mode.LIVE
        )
        assert refused is (not attempt.agrees or wrong_alert or live_inject), attempt
        if refused:
            assert isinstance(record.data, PerimeterViolated)
            codes = {r.code.value for r in record.data.reasons}
            assert codes & set(CAUGHT), (attempt, codes)
    # and no exercise event (nor any copy of it) is on a live stream, nor the reverse
    for (mode, _), messages in streams.items():
        for msg in messages:
            envelope = from_structured(msg.data)
            if isinstance(envelope.data, PerimeterViolated):
                continue
            source = next(a for a in tried if a.envelope.id == envelope.id)
            assert source.envelope.mode is mode
            assert source.subject_mode is mode
    accepted_live = {
        from_structured(m.data).type
        for m in streams[(Mode.LIVE, StreamRole.FEEDS)]
        if not isinstance(from_structured(m.data).data, PerimeterViolated)
    }
    assert "fr.interforces.exercise.injected" not in accepted_live
    # a refusal goes to the crisis cell and its publisher only, in its subject's mode
    for (_, role), messages in streams.items():
        if role is StreamRole.FEEDS:
            for msg in messages:
                if isinstance(from_structured(msg.data).data, PerimeterViolated):
                    assert msg.subject.split(".")[4] in {"crisis_cell", "exercise_control"}


async def test_the_trainers_injects_carry_the_exercise_marker(
    client: Client, coordinator: Path
) -> None:
    # given the trainers' desk of an exercise operation
    desk = ControlDesk(client.jetstream(), DRILL_OP, control_unit(load_charter(coordinator)))
    event: dict[str, Any] = {
        "type": "fr.interforces.exercise.injected",
        "inject": "INJ-1",
        "target": "crisis_cell",
        "message": "Message de l'animation",
    }
    # when it proposes an inject
    published = await desk.propose("inj-1", AT, event)
    # then it lies in the exercise proposals, marked, and the coordinator accepts it
    [stored] = await read_all(client, subjects.stream_name(Mode.EXERCISE, StreamRole.PROPOSALS))
    assert stored.headers is not None
    assert stored.headers[EXERCISE_HEADER] == EXERCISE_MARK
    assert stored.subject.startswith("ifc.exercise.")
    timeline = subjects.stream_name(Mode.EXERCISE, StreamRole.TIMELINE)
    await wait_for(lambda: _one(client, timeline))
    [record] = await read_all(client, timeline)
    assert from_structured(record.data).id == published.event_id
    assert not isinstance(from_structured(record.data).data, PerimeterViolated)
    assert await count(client, subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)) == 0


async def _one(client: Client, stream: str) -> bool:
    return await count(client, stream) >= 1


async def test_every_exercise_record_and_copy_carries_the_exercise_marker(
    client: Client, coordinator: Path
) -> None:
    # given an accepted proposal in each mode
    js = client.jetstream()
    for mode, operation in ((Mode.LIVE, LIVE_OP), (Mode.EXERCISE, DRILL_OP)):
        envelope = _decision(f"mark-{mode}", operation, mode)
        subject = subjects.proposal(mode, operation, Agency.CRISIS_CELL, envelope.type)
        await js.publish(subject, to_structured(envelope), headers={MSG_ID_HEADER: envelope.id})
    await wait_for(lambda: _feeds(client))
    streams = await _everything(client)
    # then every exercise message is marked, and no live one is
    for (mode, _), messages in streams.items():
        for msg in messages:
            marked = (msg.headers or {}).get(EXERCISE_HEADER) == EXERCISE_MARK
            assert marked is (mode is Mode.EXERCISE), msg.subject


async def _feeds(client: Client) -> bool:
    held = [await count(client, subjects.stream_name(m, StreamRole.FEEDS)) for m in Mode]
    return all(held)
