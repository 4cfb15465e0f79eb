"""The benchmarks: the perimeter benchmark (its report, Cedar's agreement with the engine,
the generator), and `interforces bench` (the load generator, the arithmetic of its figures,
its report, and one run of every part at a tiny size against real servers).

No timing is asserted here: the benchmark is a measurement. What is asserted is what makes
its figures meaningful — both outcomes measured, and Cedar deciding exactly as our engine
does on the checks it makes, including the identity corners the generator does not draw.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts import subjects
from contracts.charter import Charter, load_charter
from contracts.credentials import verify_unit_token
from contracts.ids import UnitId, derived_event_id
from contracts.reports import UnitReport
from contracts.vocabulary import Agency, IncidentCategory
from interforces.cli import app
from services.coordinator.perimeter import (
    CompiledCharter,
    Proposal,
    Situation,
    compile_charter,
    decide,
)
from simulations.bench.cedar_policy import CEDAR_CHECKS, CedarPerimeter, within_cedar_checks
from simulations.bench.load import (
    PARIS_2024,
    Schedule,
    paris_charter,
    report_message,
    roster_size,
)
from simulations.bench.perimeter import DEFAULT_CHARTER, run
from simulations.bench.processes import AGENCIES, short_frame, summarise
from simulations.bench.proposals import OUT_OF_PERIMETER, Case, CaseKind, generate
from simulations.bench.stats import Latency, Spread, percentile, ratio, slope
from simulations.bench.suite import TARGETS, BenchConfig, markdown_table
from simulations.bench.suite import run as run_suite

REPORT_KEYS = {
    "p50_us",
    "p99_us",
    "mean_us",
    "cedar_p50_us",
    "cedar_p99_us",
    "cedar_mean_us",
    "cedar_api",
    "cedar_per_decision",
    "cedar_eval_only_p50_us",
    "speedup_p50",
    "accepted_ratio",
    "agreement",
    "sectors",
    "actors",
    "python",
    "cedarpy",
    "targets",
}


@cache
def _charter() -> Charter:
    return load_charter(DEFAULT_CHARTER)


@cache
def _compiled() -> CompiledCharter:
    return compile_charter(_charter())


@cache
def _cedar() -> CedarPerimeter:
    return CedarPerimeter(_compiled())


@cache
def _cases() -> tuple[Case, ...]:
    return tuple(generate(_charter(), 300, seed=11))


def _agree(proposal: Proposal) -> tuple[bool, bool]:
    """(Cedar allows, our engine finds no failure among Cedar's checks)."""
    decision = decide(proposal, _compiled(), Situation())
    return _cedar().is_authorized(proposal), within_cedar_checks(decision)


@pytest.mark.unit
def test_the_report_has_every_figure_and_cedar_agrees_on_every_proposal() -> None:
    # Given the shipped stadium charter, when 300 proposals are benchmarked
    result = run(DEFAULT_CHARTER, decisions=300, seed=3, batch_size=50)
    report = result.as_dict()

    # then the report carries every figure, JSON-ready
    assert report.keys() >= REPORT_KEYS
    json.dumps(report)
    assert report["sectors"] >= 20
    assert report["actors"] >= 6
    assert report["cedar_api"] in {"is_authorized", "is_authorized_batch"}
    assert set(report["targets"]) == {"p50_le_20us", "faster_than_cedarpy"}
    # and Cedar agrees with the engine on every proposal, with both outcomes measured
    assert report["agreement"] == 1.0
    assert report["disagreements"] == []
    assert 0.0 < report["accepted_ratio"] < 1.0
    assert report["cedar_allowed_ratio"] == report["accepted_ratio"]
    # and every proposal came out as generated: in perimeter accepted, faults refused
    assert report["expected_outcomes"] == 1.0


@pytest.mark.unit
def test_the_generator_is_reproducible_and_draws_every_kind_of_fault() -> None:
    again = generate(_charter(), 300, seed=11)

    assert [c.proposal.envelope.id for c in again] == [c.proposal.envelope.id for c in _cases()]
    kinds = {c.kind for c in _cases()}
    assert kinds == {CaseKind.IN_PERIMETER, *OUT_OF_PERIMETER}
    faulty = sum(c.kind is not CaseKind.IN_PERIMETER for c in _cases())
    assert 0.05 < faulty / len(_cases()) < 0.30


@pytest.mark.unit
def test_the_cedar_translation_has_one_permit_per_actor_and_validates() -> None:
    translation = _cedar().translation  # loading it validated the policies against the schema

    for actor in _charter().actors:
        assert f'@id("perimeter:{actor.agency.value}")' in translation.policies
    assert translation.policies.count("permit (") == len(_charter().actors)
    assert "forbid (" in translation.policies


@cache
def _pool() -> tuple[Case, ...]:
    """A larger sample, to find an in-perimeter proposal of a given type and agency."""
    return tuple(generate(_charter(), 3000, seed=5))


def _in_perimeter(type_suffix: str, agency: Agency | None = None) -> Proposal:
    return next(
        c.proposal
        for c in _pool()
        if c.kind is CaseKind.IN_PERIMETER
        and c.proposal.envelope.type.endswith(type_suffix)
        and (agency is None or c.proposal.envelope.agency is agency)
    )


def _with_envelope(proposal: Proposal, **update: object) -> Proposal:
    return replace(proposal, envelope=proposal.envelope.model_copy(update=update))


def _corner(name: str) -> Proposal:
    """Identity and territory corners the generator does not draw (built without validation)."""
    base = _in_perimeter("unit.position_reported")
    envelope = base.envelope
    mode, op, agency = envelope.mode, envelope.operation, envelope.agency
    actor = _charter().actor(agency)
    assert actor is not None
    match name:
        case "unknown unit":
            unknown = UnitId("INCONNU-99")
            data = envelope.data.model_copy(update={"unit": unknown})
            return _with_envelope(base, unit=unknown, data=data)
        case "envelope unit differs from the event's":
            return _with_envelope(
                base, unit=next(u.id for u in actor.units if u.id != envelope.unit)
            )
        case "unit of another agency":
            foreign = next(u.id for a in _charter().actors if a is not actor for u in a.units)
            return _with_envelope(base, unit=foreign)
        case "subject names another type":
            other_type = "fr.interforces.unit.status_changed"
            return replace(base, subject=subjects.proposal(mode, op, agency, other_type))
        case "subject cannot be parsed":
            return replace(base, subject="not.a.proposal.subject")
        case "agency absent from the charter":
            stranger = next(a for a in Agency if _charter().actor(a) is None)
            return replace(
                _with_envelope(base, agency=stranger),
                subject=subjects.proposal(mode, op, stranger, envelope.type),
                credentials_agency=stranger,
            )
        case "sector unknown to the charter":
            return _with_envelope(base, sector="secteur-inexistant")
        case _:
            raise AssertionError(name)


CORNERS = (
    "unknown unit",
    "envelope unit differs from the event's",
    "unit of another agency",
    "subject names another type",
    "subject cannot be parsed",
    "agency absent from the charter",
    "sector unknown to the charter",
)


@pytest.mark.parametrize("corner", CORNERS)
@pytest.mark.unit
def test_cedar_refuses_the_identity_corners_exactly_as_the_engine(corner: str) -> None:
    proposal = _corner(corner)
    decision = decide(proposal, _compiled(), Situation())

    assert decision.codes & CEDAR_CHECKS  # the engine refuses on a check Cedar makes
    assert _agree(proposal) == (False, False)


@pytest.mark.unit
def test_cedar_accepts_a_witness_category_where_the_engine_does() -> None:
    # Given an actor that may report a category only as a witness (mediators seeing a fight)
    witness = next(a for a in _charter().actors if a.competences.witness_categories)
    report = _in_perimeter("incident.reported", witness.agency)
    category: IncidentCategory = witness.competences.witness_categories[0]
    assert category not in witness.competences.incident_categories
    data = report.envelope.data.model_copy(update={"category": category})

    # when it reports one, both accept
    assert _agree(_with_envelope(report, data=data)) == (True, True)


@pytest.mark.unit
def test_the_command_prints_json_and_exits_0_on_agreement() -> None:
    result = CliRunner().invoke(app, ["bench", "perimeter", "--json", "--decisions", "200"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report.keys() >= REPORT_KEYS
    assert report["decisions"] == 200


@pytest.mark.unit
def test_the_command_fails_loudly_when_cedar_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a comparison that wrongly believes the engine accepts everything
    monkeypatch.setattr("simulations.bench.perimeter.within_cedar_checks", lambda _: True)

    result = CliRunner().invoke(app, ["bench", "perimeter", "--decisions", "200"])

    # then the refused proposals count as disagreements, and the command exits 1
    assert result.exit_code == 1
    assert "disagree" in result.stderr


# --- `interforces bench`: the load generator, the figures' arithmetic, the report ----------


@cache
def _paris() -> Charter:
    return paris_charter(_charter(), 0.02)


@pytest.mark.unit
def test_the_roster_scales_every_agency_to_paris_2024() -> None:
    charter = _paris()
    terminals = {a.agency: [u.id for u in a.units if u.id.startswith("T")] for a in charter.actors}

    for agency, agents in PARIS_2024.items():
        assert len(terminals[agency]) == round(agents * 0.02)
    every = [u for units in terminals.values() for u in units]
    assert len(every) == len(set(every)) == roster_size(charter)
    assert Agency.CRISIS_CELL not in PARIS_2024  # the crisis cell decides, it has no agents


@pytest.mark.unit
def test_the_night_is_reproducible_ordered_and_paced_as_the_issue_says() -> None:
    night = Schedule(_paris(), seed=4).take(3000)
    again = Schedule(_paris(), seed=4).take(3000)

    assert [s.proposal.envelope.id for s in night] == [s.proposal.envelope.id for s in again]
    assert all(a.at_s <= b.at_s for a, b in itertools.pairwise(night))
    # each terminal reports every 10 to 60 seconds of the night
    seen: dict[str, list[float]] = {}
    for s in night:
        if s.kind in {"position", "status"}:
            seen.setdefault(str(s.proposal.envelope.unit), []).append(s.at_s)
    gaps = [b - a for times in seen.values() for a, b in itertools.pairwise(times)]
    assert gaps
    assert all(10.0 <= g <= 60.0 for g in gaps)
    assert {s.kind for s in night} == {"position", "status", "incident", "fault"}


@pytest.mark.unit
def test_the_night_is_in_perimeter_but_for_its_deliberate_faults() -> None:
    compiled = compile_charter(_paris())
    night = Schedule(_paris(), seed=2, fault_share=0.05).take(1500)

    verdicts = [(s.kind, decide(s.proposal, compiled, Situation()).accepted) for s in night]

    assert all(accepted for kind, accepted in verdicts if kind != "fault")
    assert not any(accepted for kind, accepted in verdicts if kind == "fault")


@pytest.mark.unit
def test_a_unit_report_carries_the_units_credential_and_names_its_proposal() -> None:
    key = bytes(range(32))
    event = next(s for s in Schedule(_paris(), seed=1) if s.kind == "position")
    envelope = event.proposal.envelope

    message, proposal_id = report_message(event.proposal, key, "rep-1")

    report = UnitReport.model_validate_json(message.body)
    assert verify_unit_token(key, report.operation, report.unit, report.token)
    assert message.subject == subjects.report(
        envelope.mode, envelope.operation, envelope.agency, report.unit
    )
    assert report.event["type"] == envelope.type
    assert proposal_id == derived_event_id(
        envelope.agency.value, report.operation, report.unit, "rep-1"
    )


@pytest.mark.unit
def test_percentiles_spreads_and_slopes() -> None:
    assert percentile([], 99) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    spread = Spread.of([10.0, 12.0, 11.0])
    assert (spread.median, spread.low, spread.high, spread.runs) == (11.0, 10.0, 12.0, 3)
    assert spread.relative == pytest.approx(2 / 11)
    assert slope([(0.0, 5.0), (1.0, 7.0), (2.0, 9.0)]) == pytest.approx(2.0)
    assert slope([(1.0, 5.0)]) == 0.0
    assert ratio(1.0, 0.0) == 0.0
    latency = Latency.of([0.001, 0.002, 0.010])
    assert (latency.p50_ms, latency.max_ms, latency.samples) == (2.0, 10.0, 3)


@pytest.mark.unit
def test_a_profile_names_the_heaviest_frames_without_the_machines_paths() -> None:
    collapsed = "\n".join(
        (
            "<module> (/x/services/coordinator/__main__.py:26);"
            "decide (/x/services/coordinator/domain.py:10);"
            "dumps (/usr/lib/python3.11/json/__init__.py:231) 3",
            "<module> (/x/services/coordinator/__main__.py:26);"
            "publish (/x/.venv/lib/python3.11/site-packages/nats/aio/client.py:990) 1",
        )
    )

    profile = summarise(collapsed)

    assert profile.samples == 4
    assert profile.own[0] == ("dumps (json/__init__.py:231)", 75.0)
    assert ("decide (services/coordinator/domain.py:10)", 75.0) in profile.inclusive
    assert "/x/" not in json.dumps(profile.as_dict())
    assert short_frame("f (/a/b/site-packages/nats/js/client.py:1)") == "f (nats/js/client.py:1)"


SUITE_KEYS = {
    "coordinator_eps",
    "raw_pipeline_eps",
    "ratio_to_raw",
    "raw_coordinator_eps",
    "ratio_to_raw_coordinator",
    "p99_ms_at_3000",
    "replay_eps",
    "raw_replay_eps",
    "projection_rows_s",
    "raw_copy_rows_s",
    "targets",
    "spreads",
    "memory",
    "machine",
}


@pytest.mark.integration
@pytest.mark.timeout(600)
async def test_the_bench_runs_every_part_at_a_tiny_size(postgres_url: str, tmp_path: Path) -> None:
    config = replace(BenchConfig.quick().tiny(), rates=(200, 3000))

    report = await run_suite(config, tmp_path / "bench", postgres_url=postgres_url)

    assert report.keys() >= SUITE_KEYS
    json.dumps(report)
    # every figure measured something, each beside its ceiling from the same run
    for key in ("coordinator_eps", "raw_pipeline_eps", "raw_coordinator_eps", "replay_eps"):
        assert report[key] > 0, key
    assert report["raw_replay_eps"] > 0
    assert report["projection_rows_s"] > 0
    assert report["raw_copy_rows_s"] > 0
    assert report["ratio_to_raw"] == pytest.approx(
        report["coordinator_eps"] / report["raw_pipeline_eps"], abs=0.01
    )
    # every proposal offered reached the crisis cell's feed, through both paths
    for runs in report["rates"].values():
        assert all(r["delivered"] == r["sent"] > 0 for r in runs)
    assert all(r["delivered"] == r["sent"] > 0 for r in report["full_path"]["rates"])
    assert report["replay_records"] == config.replay_records
    assert set(report["memory"]) == {"timeline", "coordinator", *AGENCIES}
    assert set(report["targets"]) == set(TARGETS)
    assert "| coordinator path at saturation" in markdown_table(report)


@pytest.mark.unit
def test_the_bench_command_prints_the_issues_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[BenchConfig] = []

    async def fake_run(config: BenchConfig) -> dict[str, object]:
        seen.append(config)
        return {"coordinator_eps": 1.0, "mode": config.mode}

    monkeypatch.setattr("interforces.commands.bench.run_suite", fake_run)
    # (the command routes the process's logs to stderr: not to the runner's, closed after)
    monkeypatch.setattr("interforces.commands.bench.configure_logging", lambda *_: None)

    result = CliRunner().invoke(app, ["bench", "--quick", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"coordinator_eps": 1.0, "mode": "quick"}
    assert [c.mode for c in seen] == ["quick"]
