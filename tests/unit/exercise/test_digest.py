"""The exercise digest covers what the scenario and its seed determine, nothing else: not
the run's operation nor its event ids, sequences, recording times or arrival order."""

from __future__ import annotations

import random

import pytest

from services.timeline.domain import TimelineRecord
from simulations.exercise.digest import digest_lines, exercise_digest

from .scenarios import SHIPPED, SHORT, offline_records, planned

pytestmark = pytest.mark.unit


def _digest(seed: int, run: str, first_seq: int = 1) -> str:
    _, plan = planned(SHORT, seed, run=run)
    return exercise_digest(offline_records(plan, first_seq=first_seq))


def test_two_runs_of_a_seed_agree_and_another_seed_differs() -> None:
    # given two runs of the same seed under different operations, ids and sequences
    first, second = _digest(7, "r1"), _digest(7, "r2", first_seq=900)
    # then their digests agree; another seed gives another digest
    assert first == second
    assert _digest(8, "r1") != first


def test_arrival_order_and_recording_times_do_not_count() -> None:
    _, plan = planned(SHORT, 7)
    records = offline_records(plan)
    shuffled = list(records)
    random.Random(1).shuffle(shuffled)
    later = [
        TimelineRecord(
            r.mode,
            r.seq + 1000,
            r.envelope.model_copy(update={"recordedtime": None, "sequence": r.seq + 1000}),
        )
        for r in shuffled
    ]
    assert exercise_digest(later) == exercise_digest(records)


def test_what_happened_counts() -> None:
    _, plan = planned(SHORT, 7)
    records = offline_records(plan)
    changed = list(records)
    envelope = changed[0].envelope
    data = envelope.data.model_copy(update={"personnel": 99})
    changed[0] = TimelineRecord(changed[0].mode, 1, envelope.model_copy(update={"data": data}))
    assert exercise_digest(changed) != exercise_digest(records)
    assert exercise_digest(records[1:]) != exercise_digest(records)


def test_a_reference_to_another_record_is_followed_not_copied() -> None:
    # given the flood scenario's alert update, which references the first alert by its id
    digests = set()
    for run in ("r1", "r2"):
        _, plan = planned(SHIPPED / "crue-pcs.yaml", 2026, run=run)
        accepted, refused = digest_lines(offline_records(plan))
        updates = [line for line in accepted if '"references":"' in line]
        assert len(updates) == 1
        assert '"references":"→fr.interforces.public_alert.issued@' in updates[0]
        digests.add(exercise_digest(offline_records(plan)))
        assert len(refused) == 1
    # then both runs agree, though the id differs
    assert len(digests) == 1
