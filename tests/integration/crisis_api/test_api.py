"""The crisis-cell API against a real NATS and PostgreSQL: roles, motives, the situation
at an instant (from the projection and from the stream), the timeline as each caller may
see it, rejections, debriefs, and a journal entry for every call."""

from __future__ import annotations

from datetime import UTC

import asyncpg
import httpx
from nats.aio.client import Client
from unit.timeline.builders import at

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from integration.crisis_api.conftest import OPERATION, RESTRICTED, Evening, headers
from integration.jetstream import read_all
from services.crisis_api import journal
from services.crisis_api.situation import feature_collection, situation_of
from services.timeline.domain import TimelineRecord, decode_record

BASE = f"/v1/operations/live/{OPERATION}"


async def test_a_caller_without_a_valid_token_is_refused(api: httpx.AsyncClient) -> None:
    anonymous = await api.get("/v1/operations")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = await api.get("/v1/operations", headers={"Authorization": "Bearer forged-token"})
    assert forged.status_code == 401


async def test_personal_data_needs_a_stated_motive(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{BASE}/timeline", headers=headers("crisis", motive=None))
    assert response.status_code == 400
    assert "motive_required" in response.json()["detail"]


async def test_each_role_reaches_only_what_it_is_entitled_to(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{BASE}/situation", headers=headers("oversight"))).status_code == 403
    assert (await api.get(f"{BASE}/aggregates", headers=headers("oversight"))).status_code == 200
    assert (await api.get(f"{BASE}/timeline", headers=headers("trainer"))).status_code == 403
    drill = "/v1/operations/exercise/timeline-test/timeline"
    assert (await api.get(drill, headers=headers("trainer"))).status_code == 200
    assert (await api.get(f"{BASE}/debrief", headers=headers("private"))).status_code == 403
    listed = await api.get("/v1/operations", headers=headers("trainer"))
    assert [o["mode"] for o in listed.json()] == ["exercise"]


async def test_the_situation_at_a_past_instant(api: httpx.AsyncClient) -> None:
    def kinds(collection: dict[str, object]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for feature in collection["features"]:  # type: ignore[attr-defined]
            found.setdefault(feature["properties"]["kind"], []).append(feature["id"])
        return found

    early = await api.get(
        f"{BASE}/situation", params={"at": at(10).isoformat()}, headers=headers("crisis")
    )
    assert early.status_code == 200
    assert kinds(early.json()) == {
        "unit": ["unit:PN-1"],
        "incident": ["incident:INC-1"],
        "security_perimeter": ["perimeter:PER-1"],
    }
    late = await api.get(
        f"{BASE}/situation", params={"at": at(45).isoformat()}, headers=headers("crisis")
    )
    assert kinds(late.json())["incident"] == ["incident:INC-2"]  # INC-1 resolved at 40
    local = await api.get(f"{BASE}/situation", params={"at": "21:10"}, headers=headers("crisis"))
    assert local.json() == early.json()  # 21:10 Paris is T0 + 10 min


async def test_the_situation_from_the_stream_equals_the_projection(
    api: httpx.AsyncClient, client: Client, evening: Evening
) -> None:
    messages = await read_all(client, subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE))
    records = []
    for msg in messages:
        decoded = decode_record(
            Mode.LIVE, msg.metadata.sequence.stream, msg.subject, msg.headers or {}, msg.data
        )
        assert isinstance(decoded, TimelineRecord)
        records.append(decoded)
    for minutes in (3, 10, 25, 45):
        instant = at(minutes).astimezone(UTC)
        from_stream = feature_collection(
            situation_of(records, mode=Mode.LIVE, operation=OPERATION, at=instant)
        )
        served = await api.get(
            f"{BASE}/situation", params={"at": instant.isoformat()}, headers=headers("crisis")
        )
        assert served.json() == from_stream


async def test_an_agency_never_receives_what_its_feed_did_not(api: httpx.AsyncClient) -> None:
    crisis = await api.get(f"{BASE}/timeline", headers=headers("crisis"))
    private = await api.get(f"{BASE}/timeline", headers=headers("private"))
    assert crisis.status_code == private.status_code == 200
    assert RESTRICTED in crisis.text
    assert RESTRICTED not in private.text
    seen = {e["event_id"] for e in private.json()["entries"]}
    delivered = {e["event_id"] for e in crisis.json()["entries"]} - seen
    assert len(seen) == 4
    assert len(delivered) == 4  # the unit, the assignment, the resolution, mediation's refusal
    for entry in private.json()["entries"]:
        position = entry["data"].get("position")
        if position is not None:
            assert position["lon"] == round(position["lon"], 2)
    # no oracle: searching for the removed text finds nothing for the agency
    search = {"text": "plaque AB-123"}
    hits = await api.get(f"{BASE}/timeline", params=search, headers=headers("private"))
    assert hits.json()["entries"] == []
    found = await api.get(f"{BASE}/timeline", params=search, headers=headers("crisis"))
    assert [e["data"]["incident"] for e in found.json()["entries"]] == ["INC-1"]
    situation = await api.get(
        f"{BASE}/situation", params={"at": at(10).isoformat()}, headers=headers("private")
    )
    assert RESTRICTED not in situation.text
    assert "unit:PN-1" not in situation.text  # the unit's check-in went to the police only


async def test_rejections_are_the_callers_own(api: httpx.AsyncClient) -> None:
    everything = await api.get(f"{BASE}/rejections", headers=headers("crisis"))
    own = await api.get(f"{BASE}/rejections", headers=headers("mediation"))
    assert len(everything.json()) == 2
    assert [r["proposer"] for r in own.json()] == ["mediation"]
    assert own.json()[0]["reason_codes"] == ["outside_territory", "not_competent_category"]


async def test_timeline_filters_and_pages(api: httpx.AsyncClient) -> None:
    first = await api.get(f"{BASE}/timeline", params={"limit": 3}, headers=headers("crisis"))
    page = first.json()
    assert len(page["entries"]) == 3
    rest = await api.get(
        f"{BASE}/timeline",
        params={"after_seq": page["next_after_seq"]},
        headers=headers("crisis"),
    )
    seqs = [e["seq"] for e in page["entries"] + rest.json()["entries"]]
    assert seqs == sorted(seqs)
    assert len(seqs) == 8
    by_type = await api.get(
        f"{BASE}/timeline", params={"type": "incident.reported"}, headers=headers("crisis")
    )
    assert [e["data"]["incident"] for e in by_type.json()["entries"]] == ["INC-1", "INC-2"]
    entry = by_type.json()["entries"][0]
    assert entry["occurred_at"] != entry["recorded_at"]  # both clocks shown


async def test_the_debrief_as_json_and_html(api: httpx.AsyncClient) -> None:
    data = await api.get(f"{BASE}/debrief", headers=headers("crisis"))
    assert data.status_code == 200
    incidents = {i["incident"]: i for i in data.json()["incidents"]}
    assert incidents["INC-1"]["handling"]["report_to_assignment"] == 2.0
    assert incidents["INC-1"]["handling"]["report_to_resolution"] == 35.0
    assert data.json()["rejections_by_reason"]["outside_territory"] == 2
    page = await api.get(f"{BASE}/debrief.html", headers=headers("crisis"))
    assert page.headers["content-type"].startswith("text/html")
    assert "INC-1" in page.text
    assert "<script" not in page.text


async def test_every_call_is_journaled_with_who_why_and_what(
    api: httpx.AsyncClient, database_url: str
) -> None:
    await api.get("/v1/operations")  # refused, journaled all the same
    await api.get(f"{BASE}/timeline", headers=headers("private", "contrôle d'accès site"))
    await api.get(f"{BASE}/aggregates", headers=headers("oversight", motive=None))
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT who, role, agency, action, motive, status, operation FROM"
            " consultation_journal ORDER BY seq"
        )
        verdict = await journal.verify(conn)
    finally:
        await conn.close()
    assert [(r["who"], r["status"]) for r in rows] == [
        ("anonymous", 401),
        ("sp", 200),
        ("ddd", 200),
    ]
    assert rows[1]["motive"] == "contrôle d'accès site"
    assert rows[1]["agency"] == "securite_privee"
    assert rows[1]["action"] == "GET /v1/operations/{mode}/{operation}/timeline"
    assert rows[1]["operation"] == OPERATION
    assert verdict.ok


async def test_no_journal_no_answer(api: httpx.AsyncClient, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE consultation_journal RENAME TO journal_gone")
    finally:
        await conn.close()
    response = await api.get(f"{BASE}/timeline", headers=headers("crisis"))
    assert response.status_code == 503
    assert RESTRICTED not in response.text
