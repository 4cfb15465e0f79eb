"""The festival evening: deterministic for a seed, made of valid events, every unit inside
its sectors and its window, every incident's steps in causal order, and exactly the
deliberate refusals out of the perimeter."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import shapely
from shapely.geometry import shape

from contracts.charter import Charter
from contracts.events.catalogue import EVENT_ADAPTER
from contracts.reasons import ReasonCode
from contracts.vocabulary import Agency
from simulations.festival import DELIBERATE, Action, Evening, EveningError, Via, build_evening
from simulations.field import desk_envelope, unit_report

pytestmark = pytest.mark.unit

TOKEN = "0" * 64
PREFIX = "fr.interforces."


def _window_of(charter: Charter, action: Action) -> tuple[datetime, datetime]:
    actor = charter.actor(action.agency)
    assert actor is not None
    unit = next(u for u in actor.units if u.id == action.unit)
    window = unit.window or actor.window or charter.operation.window
    return window.start, window.end


def _incident_of(action: Action) -> str | None:
    incident = action.event.get("incident")
    return incident if isinstance(incident, str) else None


def test_the_same_seed_writes_the_same_evening(festival: Charter, evening: Evening) -> None:
    # given the evening written for a seed
    # when it is written again, and with another seed
    again = build_evening(festival, evening.seed)
    other = build_evening(festival, evening.seed + 1)
    # then the same seed gives the very same actions, another seed another evening
    assert again.actions == evening.actions
    assert other.actions != evening.actions


def test_a_label_prefixes_every_id_so_an_evening_can_be_played_again(festival: Charter) -> None:
    # given an evening written under a label
    labelled = build_evening(festival, 3, label="demo-2")
    # then every report key and every id it invents carries it
    assert all(a.key.startswith("demo-2-") for a in labelled.actions)
    incidents = {i for a in labelled.actions if (i := _incident_of(a)) is not None}
    assert incidents
    assert all(i.startswith("demo-2-") for i in incidents)
    # and a label that is no id token is refused
    with pytest.raises(EveningError):
        build_evening(festival, 3, label="not a label")


def test_the_evening_runs_from_six_pm_to_two_am_with_the_expected_mix(evening: Evening) -> None:
    # given the evening
    actions = evening.actions
    counts = Counter(a.short_type for a in actions)
    agencies = {a.agency for a in actions}
    # then it holds a night's worth of reports, in time order, over eight hours
    assert 1500 <= len(actions) <= 4000
    assert [a.at for a in actions] == sorted(a.at for a in actions)
    assert evening.end - evening.start == timedelta(hours=8)
    assert all(evening.start <= a.at < evening.end for a in actions)
    assert actions[0].at - evening.start < timedelta(minutes=10)
    assert evening.end - actions[-1].at < timedelta(minutes=30)
    # and every actor of the charter, and every story of the sources, is in it
    assert agencies == {a.agency for a in evening.charter.actors}
    for short in (
        "unit.checked_in",
        "unit.position_reported",
        "unit.status_changed",
        "help.requested",
        "incident.reported",
        "incident.assigned",
        "incident.acknowledged",
        "incident.declined",
        "incident.qualified",
        "incident.resolved",
        "mediation.started",
        "mediation.closed",
        "identity_check.recepisse_issued",
        "screening.reported",
        "site_incident.reported",
        "crowd.density_reported",
        "public_alert.issued",
        "crisis_cell.decision_logged",
        "video_extract.requested",
        "video_extract.granted",
    ):
        assert counts[short] > 0, short
    categories = {a.event.get("category") for a in actions if a.short_type == "incident.reported"}
    assert {"harassment", "fight", "intoxication", "lost_child", "noise_complaint"} <= categories
    # keys are unique: a retry is recognised by its key alone
    assert len({a.key for a in actions}) == len(actions)


def test_every_event_is_valid_in_the_catalogue_and_travels(evening: Evening) -> None:
    # given every action of the evening
    for action in evening.actions:
        # when its event is read by the catalogue
        event = EVENT_ADAPTER.validate_python(action.event)
        # then it is the event written, and it travels as a report or a desk proposal
        assert event.model_dump(mode="json", exclude_none=True) == action.event
        if action.via is Via.UNIT:
            report = unit_report(
                evening.operation,
                action.unit,
                TOKEN,
                report=action.key,
                time=action.at,
                event=action.event,
                sector=action.sector,
                subject=action.subject,
            )
            assert report.report == action.key
        else:
            envelope = desk_envelope(
                evening.mode, evening.operation, action.key, action.at, action.event
            )
            assert envelope.agency is Agency.CRISIS_CELL
            assert envelope.unit == "PC-HDV"


def test_positions_lie_in_the_units_own_sectors_except_the_deliberate_refusals(
    evening: Evening,
) -> None:
    # given the sectors of the charter
    charter = evening.charter
    geometries = {s.id: shape(s.geometry.model_dump()) for s in charter.sectors}
    outside: list[str] = []
    for action in evening.actions:
        position = action.event.get("position")
        if not isinstance(position, dict):
            continue
        actor = charter.actor(action.agency)
        assert actor is not None
        lon, lat = position["lon"], position["lat"]
        inside = [s for s in actor.sectors if shapely.contains_xy(geometries[s], lon, lat)]
        if action.refusal is not None:
            if not inside:
                outside.append(action.refusal.name)
            continue
        # then each position is strictly inside one of its actor's sectors
        assert inside, f"{action.key} {action.short_type} outside {action.agency}"
        # and inside the sector it names, when it names one
        if action.sector is not None:
            assert action.sector in inside, action.key
    # and the only position outside is the private security agent off its site
    assert outside == ["securite-privee-hors-site"]


def test_units_act_only_during_their_windows_except_the_early_reinforcement(
    evening: Evening,
) -> None:
    # given every unit report
    early: list[str] = []
    for action in evening.actions:
        if action.via is not Via.UNIT:
            continue
        start, end = _window_of(evening.charter, action)
        if start <= action.at < end:
            continue
        # then the only one out of its window is deliberate
        assert action.refusal is not None, action.key
        early.append(action.refusal.name)
    assert early == ["renfort-avant-sa-vacation"]


def test_units_check_in_at_the_start_of_their_windows(evening: Evening) -> None:
    # given each unit's first report inside its window
    firsts: dict[str, Action] = {}
    for action in evening.actions:
        if action.via is Via.UNIT and action.refusal is None:
            firsts.setdefault(action.unit, action)
    # then it is its check-in, minutes after its window opens (or the evening starts)
    assert len(firsts) == sum(len(a.units) for a in evening.charter.actors) - 1  # desk
    for unit, first in firsts.items():
        assert first.short_type == "unit.checked_in", unit
        start, _ = _window_of(evening.charter, first)
        assert timedelta(0) < first.at - max(start, evening.start) <= timedelta(minutes=5)


def test_patrols_report_their_position_every_few_minutes(evening: Evening) -> None:
    # given the position reports of each unit
    times: dict[str, list[datetime]] = defaultdict(list)
    for action in evening.actions:
        if action.short_type == "unit.position_reported" and action.refusal is None:
            times[action.unit].append(action.at)
    # then patrols report at least every quarter of an hour
    for unit in ("PM-TERREAUX-1", "PN-BAC-1", "MED-SOIR-2", "SP-OPERA-SALLE"):
        gaps = [b - a for a, b in pairwise(times[unit])]
        assert len(gaps) > 20, unit
        assert max(gaps) <= timedelta(minutes=16), unit


def test_every_thread_plays_in_order_and_incidents_live_in_one_thread(evening: Evening) -> None:
    # given the evening's threads
    threads = evening.threads()
    # then each thread's steps strictly follow one another
    for thread, steps in threads.items():
        assert all(a.at < b.at for a, b in pairwise(steps)), thread
    # and every step about an incident is in that incident's one thread
    by_incident: dict[str, set[str]] = defaultdict(set)
    for action in evening.actions:
        incident = _incident_of(action)
        if incident is not None:
            by_incident[incident].add(action.thread)
    assert by_incident
    assert all(len(t) == 1 for t in by_incident.values())


def test_incident_steps_follow_their_causes(evening: Evening) -> None:
    # given each incident's life: its thread, but for the deliberate refusals in it
    threads = evening.threads()
    reports = [
        a
        for a in evening.actions
        if a.short_type in ("incident.reported", "site_incident.reported") and a.refusal is None
    ]
    handled = 0
    for report in reports:
        incident = _incident_of(report)
        life = [a for a in threads[report.thread] if a.refusal is None]
        # then it is reported first (after a request for help, sometimes)
        kinds = [a.short_type for a in life if a.short_type != "help.requested"]
        assert kinds[0] in ("incident.reported", "site_incident.reported"), incident
        assignments = [a for a in life if a.short_type == "incident.assigned"]
        if not assignments:
            continue
        handled += 1
        final = assignments[-1]
        assignee = Agency(final.event["assignee"])
        after = [a for a in life if a.at > final.at]
        ack = next(a for a in after if a.short_type == "incident.acknowledged")
        resolved = next(a for a in after if a.short_type == "incident.resolved")
        # acknowledged by the unit it was last assigned to, after its assignment
        assert ack.agency is assignee
        assert ack.unit == final.event["assignee_unit"]
        # which sets off and arrives after acknowledging, and resolves it last but for
        # becoming available again
        statuses = [a.event["status"] for a in after if a.short_type == "unit.status_changed"]
        assert statuses[:2] == ["en_route", "on_scene"]
        assert statuses[-1] == "available"
        assert ack.at < resolved.at
        assert resolved.unit == ack.unit
        assert all(a.at <= resolved.at for a in after if a.short_type != "unit.status_changed")
        # a declined assignment is handed back before anyone else is assigned
        for declined in (a for a in life if a.short_type == "incident.declined"):
            earlier = [a for a in assignments if a.at < declined.at]
            assert earlier
            assert earlier[-1].event["assignee"] == declined.agency.value
    assert handled >= 40


def test_the_deliberate_refusals_are_each_written_once(evening: Evening) -> None:
    # given the actions written to be refused
    refusals = evening.refusals()
    # then each deliberate refusal is there once, with what the coordinator must answer
    assert sorted(a.refusal.name for a in refusals if a.refusal) == sorted(
        r.name for r in DELIBERATE
    )
    codes = {a.refusal.name: a.refusal.codes for a in refusals if a.refusal}
    assert codes["mediation-sur-rixe"] == {
        ReasonCode.ASSIGNEE_NOT_COMPETENT,
        ReasonCode.VIOLENT_SITUATION_FORBIDDEN,
    }
    assert codes["securite-privee-hors-site"] == {ReasonCode.OUTSIDE_TERRITORY}
    # and a mistaken assignment is followed by the right one, to the police
    mistake = next(a for a in refusals if a.refusal and a.refusal.name == "mediation-sur-rixe")
    assert mistake.event["assignee"] == Agency.MEDIATION.value
    rest = [a for a in evening.threads()[mistake.thread] if a.at > mistake.at]
    right = next(a for a in rest if a.short_type == "incident.assigned")
    assert right.event["assignee"] == Agency.POLICE_NATIONALE.value


_DIGEST = """
import hashlib, json, sys
from contracts.charter import load_charter
from simulations.festival import build_evening
evening = build_evening(load_charter(sys.argv[1]), int(sys.argv[2]))
rows = [(a.key, a.at.isoformat(), a.thread, a.event, a.sector) for a in evening.actions]
print(hashlib.sha256(json.dumps(rows).encode()).hexdigest())
"""


def test_the_evening_does_not_depend_on_the_interpreters_hash_seed(evening: Evening) -> None:
    # given two interpreters whose string hashes differ
    charter = Path(__file__).resolve().parents[3] / "infra/charters/fete-musique-presquile.yaml"
    digests = {
        subprocess.run(  # noqa: S603 (this interpreter, on a script of this test)
            [sys.executable, "-c", _DIGEST, str(charter), str(evening.seed)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for seed in ("1", "2")
    }
    # then they write the same evening
    assert len(digests) == 1
