"""The evaluation, from the timeline only: each expected action met, late or missed with
its delay; each deliberate attempt refused as planned (or not); per agency the time to
assign and to acknowledge; every violation; objectives scored."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from services.timeline.domain import TimelineRecord
from simulations.exercise.evaluation import Delays, Evaluation, Status, evaluate
from simulations.exercise.loader import LoadedScenario
from simulations.exercise.plan import Plan

from .scenarios import SHIPPED, SHORT, offline_records, planned, without

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def short() -> tuple[LoadedScenario, Plan, list[TimelineRecord]]:
    loaded, plan = planned(SHORT, 7)
    return loaded, plan, offline_records(plan)


def _by_id(evaluation: Evaluation) -> dict[str, tuple[Status, float | None]]:
    return {e.id: (e.status, e.delay_min) for e in evaluation.expected}


def test_a_dry_run_is_evaluated_from_its_timeline(
    short: tuple[LoadedScenario, Plan, list[TimelineRecord]],
) -> None:
    loaded, plan, records = short
    evaluation = evaluate(loaded, plan, records)
    triggers, by_ref = plan.triggers, plan.by_ref()
    # each answered action is found at its time, and judged against its delay
    for wanted in loaded.scenario.expected:
        result = next(e for e in evaluation.expected if e.id == wanted.id)
        if wanted.id not in by_ref:
            assert result.status is Status.MISSED
            continue
        delay = by_ref[wanted.id].at - triggers[wanted.after]
        assert result.done_at == by_ref[wanted.id].at
        assert result.delay_min == round(delay.total_seconds() / 60, 2)
        on_time = delay <= timedelta(minutes=wanted.within)
        assert result.status is (Status.MET if on_time else Status.LATE)
    assert _by_id(evaluation)["EXP-DENSITE"] == (Status.MISSED, None)
    # the deliberate attempt is refused as planned, and it is the only violation
    [attempt] = evaluation.attempts
    assert (attempt.inject, attempt.outcome) == ("INJ-SUBSTITUTION", "refused")
    assert attempt.codes == ("assignee_not_competent",)
    [violation] = evaluation.violations
    assert violation.planned
    assert violation.at == by_ref["INJ-SUBSTITUTION"].at
    # the summary has the keys the command prints
    summary = evaluation.summary()
    assert {"expected", "met", "late", "missed", "violations"} <= set(summary)
    assert summary["expected"] == 4
    assert summary["met"] + summary["late"] + summary["missed"] == 4
    assert summary["violations"] == 1


def test_a_missing_action_is_missed_and_so_is_what_waited_for_it(
    short: tuple[LoadedScenario, Plan, list[TimelineRecord]],
) -> None:
    loaded, plan, records = short
    evaluation = evaluate(loaded, plan, without(records, "incident.assigned"))
    found = _by_id(evaluation)
    assert found["EXP-AFFECTATION"] == (Status.MISSED, None)
    assert found["EXP-ACQUIT"] == (Status.MISSED, None)
    acknowledgement = next(e for e in evaluation.expected if e.id == "EXP-ACQUIT")
    assert "EXP-AFFECTATION" in acknowledgement.note


def test_an_action_after_its_due_time_is_late_with_its_delay(
    short: tuple[LoadedScenario, Plan, list[TimelineRecord]],
) -> None:
    loaded, plan, records = short
    # given the decision logged 20 minutes after its trigger (due within 4)
    at = plan.triggers["INJ-MESSAGE"] + timedelta(minutes=20)
    late = [
        replace(r, envelope=r.envelope.model_copy(update={"time": at}))
        if r.envelope.type == "fr.interforces.crisis_cell.decision_logged"
        else r
        for r in records
    ]
    # then it is late by exactly that
    assert _by_id(evaluate(loaded, plan, late))["EXP-DECISION"] == (Status.LATE, 20.0)


def test_an_attempt_that_got_through_is_reported(
    short: tuple[LoadedScenario, Plan, list[TimelineRecord]],
) -> None:
    loaded, plan, records = short
    refusals = [r for r in records if r.envelope.type == "fr.interforces.perimeter.violated"]
    evaluation = evaluate(loaded, plan, [r for r in records if r not in refusals])
    [attempt] = evaluation.attempts
    assert attempt.outcome == "absent"
    assert not attempt.as_planned
    roles = next(o for o in evaluation.objectives if o.id == "OBJ-ROLES")
    assert roles.score == 0.0


def test_agency_delays_and_objective_scores() -> None:
    loaded, plan = planned(SHIPPED / "fete-musique-bars.yaml", 2026)
    evaluation = evaluate(loaded, plan, offline_records(plan))
    delays = {a.agency: a for a in evaluation.agencies}
    # incidents assigned to the municipal police, the mediators and the national police
    assert set(delays) == {"police_municipale", "mediation", "police_nationale"}
    municipal = delays["police_municipale"]
    assert municipal.assign.n == 2  # the harassment and the lost child
    assert municipal.acknowledge.n == 2
    assert municipal.assign.p50 is not None
    assert municipal.assign.p90 is not None
    assert municipal.assign.p50 <= municipal.assign.p90 <= (municipal.assign.max or 0)
    # objectives: every item met or late, the deliberate attempts refused as planned
    assert all(o.score is not None and o.score >= 50 for o in evaluation.objectives)
    site = next(o for o in evaluation.objectives if o.id == "OBJ-SITE")
    assert (site.items, site.score) == (1, 100.0)
    assert evaluation.score is not None
    assert 50 <= evaluation.score <= 100


def test_delay_statistics() -> None:
    assert Delays.of([]) == Delays(0, None, None, None)
    assert Delays.of([4.0]) == Delays(1, 4.0, 4.0, 4.0)
    stats = Delays.of([float(n) for n in range(1, 11)])
    assert (stats.n, stats.p50, stats.max) == (10, 5.5, 10.0)
    assert stats.p90 is not None
    assert 9 <= stats.p90 <= 10
