"""The perimeter benchmark: its report, Cedar's agreement with the engine, the generator.

No timing is asserted here: the benchmark is a measurement. What is asserted is what makes
its figures meaningful — both outcomes measured, and Cedar deciding exactly as our engine
does on the checks it makes, including the identity corners the generator does not draw.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache

import pytest
from typer.testing import CliRunner

from contracts import subjects
from contracts.charter import Charter, load_charter
from contracts.ids import UnitId
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
from simulations.bench.perimeter import DEFAULT_CHARTER, run
from simulations.bench.proposals import OUT_OF_PERIMETER, Case, CaseKind, generate

pytestmark = pytest.mark.unit

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


def test_the_generator_is_reproducible_and_draws_every_kind_of_fault() -> None:
    again = generate(_charter(), 300, seed=11)

    assert [c.proposal.envelope.id for c in again] == [c.proposal.envelope.id for c in _cases()]
    kinds = {c.kind for c in _cases()}
    assert kinds == {CaseKind.IN_PERIMETER, *OUT_OF_PERIMETER}
    faulty = sum(c.kind is not CaseKind.IN_PERIMETER for c in _cases())
    assert 0.05 < faulty / len(_cases()) < 0.30


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
def test_cedar_refuses_the_identity_corners_exactly_as_the_engine(corner: str) -> None:
    proposal = _corner(corner)
    decision = decide(proposal, _compiled(), Situation())

    assert decision.codes & CEDAR_CHECKS  # the engine refuses on a check Cedar makes
    assert _agree(proposal) == (False, False)


def test_cedar_accepts_a_witness_category_where_the_engine_does() -> None:
    # Given an actor that may report a category only as a witness (mediators seeing a fight)
    witness = next(a for a in _charter().actors if a.competences.witness_categories)
    report = _in_perimeter("incident.reported", witness.agency)
    category: IncidentCategory = witness.competences.witness_categories[0]
    assert category not in witness.competences.incident_categories
    data = report.envelope.data.model_copy(update={"category": category})

    # when it reports one, both accept
    assert _agree(_with_envelope(report, data=data)) == (True, True)


def test_the_command_prints_json_and_exits_0_on_agreement() -> None:
    result = CliRunner().invoke(app, ["bench", "perimeter", "--json", "--decisions", "200"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report.keys() >= REPORT_KEYS
    assert report["decisions"] == 200


def test_the_command_fails_loudly_when_cedar_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a comparison that wrongly believes the engine accepts everything
    monkeypatch.setattr("simulations.bench.perimeter.within_cedar_checks", lambda _: True)

    result = CliRunner().invoke(app, ["bench", "perimeter", "--decisions", "200"])

    # then the refused proposals count as disagreements, and the command exits 1
    assert result.exit_code == 1
    assert "disagree" in result.stderr
