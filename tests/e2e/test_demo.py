"""The whole system end to end, as the README's main command runs it: embedded nats-server
and PostgreSQL, the eight services as processes, a festival evening played through the
agency services, the summary read back from PostgreSQL, one trace following a unit's
report through its agency service, the coordinator, the projector and the feeds, and the
operation rebuilt from its stream into an empty schema with the live projection's digest."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from typer.testing import CliRunner, Result

from contracts import subjects
from contracts.charter.loader import load_charter
from interforces.commands import timeline
from interforces.demo.run import DemoRun, run_demo
from interforces.demo.summary import Summary
from interforces.stack.stack import Stack, StackSettings
from simulations.festival.evening import build_evening

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHARTER = ROOT / "infra/charters/fete-musique-presquile.yaml"
SEED = 2026
#: The evening's deliberate out-of-perimeter attempts and the codes each must be refused with.
DELIBERATE = Counter(
    {
        "outside_actor_window": 1,
        "not_competent_category": 1,
        "outside_territory": 1,
        "not_assignee": 1,
        "not_competent_type": 1,
        "missing_capability": 1,
        "assignee_not_competent": 1,
        "violent_situation_forbidden": 1,
    }
)


#: What the crisis-cell API answered while the demo's system was still up.
API_SEEN: dict[str, Any] = {}


async def _ask_the_api(stack: Stack, summary: Summary) -> None:
    """Query the running API over HTTP as the crisis cell, an agency and oversight."""
    assert stack.state.api_url is not None
    assert stack.state.api_tokens is not None
    callers = json.loads(stack.state.api_tokens.read_text())["callers"]
    token = {c.get("agency") or c["role"]: c["token"] for c in callers}
    base = f"/v1/operations/live/{summary.operation}"

    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token[who]}", "X-Motive": "retour%20d'exp%C3%A9rience"}

    start = load_charter(CHARTER).operation.window.start
    window = {"start": start.replace(hour=23, minute=0), "end": start.replace(hour=23, minute=5)}
    async with httpx.AsyncClient(base_url=stack.state.api_url, timeout=30) as http:
        API_SEEN["situation"] = (
            await http.get(f"{base}/situation", params={"at": "23:30"}, headers=auth("crisis_cell"))
        ).json()

        async def timeline(who: str) -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = []
            after: int | None = 0
            while after is not None:
                page = (
                    await http.get(
                        f"{base}/timeline", params={"after_seq": after}, headers=auth(who)
                    )
                ).json()
                entries += page["entries"]
                after = page["next_after_seq"]
            return entries

        API_SEEN["crisis_timeline"] = await timeline("crisis_cell")
        API_SEEN["private_timeline"] = await timeline("securite_privee")
        nc = await nats.connect(stack.nats_url)
        try:
            received = await nc.subscribe(subjects.replay_of())  # every replay, from the start
            created = await http.post(
                "/v1/replays",
                json={
                    "mode": "live",
                    "operation": summary.operation,
                    "start": window["start"].isoformat(),
                    "end": window["end"].isoformat(),
                    "speed": 100,
                },
                headers=auth("crisis_cell"),
            )
            replay = created.json()
            while replay["state"] not in {"finished", "failed", "stopped"}:
                await asyncio.sleep(0.2)
                replay = (
                    await http.get(f"/v1/replays/{replay['id']}", headers=auth("crisis_cell"))
                ).json()
            API_SEEN["replay"] = replay
            API_SEEN["replay_received"] = received.pending_msgs
        finally:
            await nc.close()
        API_SEEN["journal"] = (
            await http.get("/v1/journal/verification", headers=auth("oversight"))
        ).json()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoRun, Path]:
    data_dir = tmp_path_factory.mktemp("demo")
    traces = data_dir / "traces.jsonl"
    run = asyncio.run(
        run_demo(
            CHARTER,
            data_dir=data_dir,
            speed=3000,
            seed=SEED,
            trace_file=traces,
            after=_ask_the_api,
        )
    )
    return run, traces


def test_every_report_ends_on_the_timeline_and_only_the_deliberate_ones_are_refused(
    demo: tuple[DemoRun, Path],
) -> None:
    run, _ = demo
    evening = build_evening(load_charter(CHARTER), SEED)
    summary, played = run.summary, run.play
    # every action was answered: proposed by its service (or the desk), none lost
    assert played.undelivered == 0
    assert played.unreadable == 0
    assert played.refused_total == 0
    assert played.desk_failed == 0
    # the timeline holds one record per action: the accepted events and the refusals
    assert summary.timeline_records == len(evening.actions)
    assert summary.rejected == len(evening.refusals()) == 6
    assert summary.accepted == len(evening.actions) - 6
    assert Counter(summary.rejections_by_reason) == DELIBERATE
    # receipts reached the checked persons, assignments reached the units
    assert played.receipts == played.receipts_expected > 0
    assert played.dispatches == played.dispatches_expected > 0
    # identity checks are on the timeline without identity; case notes are not there at all
    assert summary.by_agency["police_nationale"]["identity_check.recorded"] == 8
    assert "identity_check.recepisse_issued" not in json.dumps(summary.by_agency)


def test_the_summary_json_has_the_documented_keys(demo: tuple[DemoRun, Path]) -> None:
    document = demo[0].as_json()
    for key in ("accepted", "rejected", "by_agency", "rejections_by_reason"):
        assert key in document
    json.dumps(document, default=str)


def _service(span: dict[str, Any]) -> str:
    return str(span["resource"]["attributes"]["service.name"])


def test_one_trace_follows_a_report_from_the_agency_to_the_projection_and_the_feeds(
    demo: tuple[DemoRun, Path],
) -> None:
    _, traces = demo
    spans = [json.loads(line) for line in traces.read_text().splitlines()]
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        by_trace[span["context"]["trace_id"]].append(span)
    chains = 0
    for members in by_trace.values():
        by_id = {s["context"]["span_id"]: s for s in members}
        decides = [s for s in members if s["name"] == "coordinator decide"]
        for decide in decides:
            proposer = by_id.get(decide["parent_id"])
            projector = [
                s for s in members
                if _service(s) == "timeline" and s["parent_id"] == decide["context"]["span_id"]
            ]  # fmt: skip
            feeds = [
                s for s in members
                if ".feed." in s["name"] and s["parent_id"] == decide["context"]["span_id"]
            ]  # fmt: skip
            if proposer is None or not projector or not feeds:
                continue
            # the decision's parent is the agency service's proposal, itself under the
            # service's handling of the unit's report
            assert ".proposal." in proposer["name"]
            report = by_id.get(proposer["parent_id"])
            assert report is not None
            assert ".report." in report["name"]
            assert _service(report) == _service(proposer) != "coordinator"
            # the projector's statements hang under its batch span
            assert any(s["parent_id"] == projector[0]["context"]["span_id"] for s in members)
            chains += 1
    assert chains > 100


def test_the_demo_operation_rebuilt_from_the_stream_has_the_live_digest(
    demo: tuple[DemoRun, Path],
) -> None:
    run, _ = demo
    operation = run.summary.operation

    async def rebuilt_and_live() -> tuple[Result, Result]:
        # the demo's servers again, on its data (the stream and the projection it left)
        settings = StackSettings(data_dir=run.data_dir, charters=())
        async with Stack(settings, services=()):
            where = ["--op", operation, "--data-dir", str(run.data_dir), "--json"]
            rebuilt = await asyncio.to_thread(CliRunner().invoke, timeline.app, ["rebuild", *where])
            live = await asyncio.to_thread(CliRunner().invoke, timeline.app, ["digest", *where])
        return rebuilt, live

    rebuilt, live = asyncio.run(rebuilt_and_live())
    assert rebuilt.exit_code == live.exit_code == 0, rebuilt.output + live.output
    replayed, projected = json.loads(rebuilt.stdout), json.loads(live.stdout)
    # the whole evening came back from the stream, and the two projections are the same bytes
    assert projected["events"] == replayed["events"] == run.summary.timeline_records
    assert replayed["unreadable"] == 0
    assert replayed["digest"] == projected["digest"]
    assert replayed["schema"] != projected["schema"]


def test_the_api_showed_the_evening_to_each_caller_as_entitled(
    demo: tuple[DemoRun, Path],
) -> None:
    situation = API_SEEN["situation"]
    kinds = Counter(f["properties"]["kind"] for f in situation["features"])
    assert kinds["sector"] > 0
    assert kinds["unit"] > 0
    assert situation["properties"]["records"] > 0
    crisis = {e["event_id"]: e for e in API_SEEN["crisis_timeline"]}
    private = API_SEEN["private_timeline"]
    assert len(crisis) == demo[0].summary.timeline_records
    assert 0 < len(private) < len(crisis)
    # what private security saw is a subset of the record, never more
    for entry in private:
        full = crisis[entry["event_id"]]["data"]
        for field, value in entry["data"].items():
            if value not in (None, "", [], {}) and not isinstance(value, dict):
                assert full[field] == value, field


def test_a_replay_of_the_demo_republished_its_window_and_measured_its_skew(
    demo: tuple[DemoRun, Path],
) -> None:
    replay = API_SEEN["replay"]
    assert replay["state"] == "finished"
    assert replay["total"] > 0
    assert API_SEEN["replay_received"] == replay["sent"] == replay["total"]
    assert replay["skew_ms"]["p99"] >= 0
    assert API_SEEN["journal"]["ok"] is True
