"""An inject table from a spreadsheet: one inject per row, faults named by row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.reasons import ReasonCode
from simulations.exercise.csv_import import parse_inject_table

pytestmark = pytest.mark.unit

HEADER = "id,at,by,event,sector,subject,objective,refused,note,payload,target,message\n"


def test_rows_become_injects_with_their_line_numbers() -> None:
    text = (
        HEADER
        + "INJ-1,+00:05,PM-1,incident.reported,terreaux,INC-1,OBJ-1,,,"
        + '"{""incident"": ""INC-1""}",,\n'
        + "\n"
        + "INJ-2,+01:10:30,exercise_control,exercise.injected,,,,,note,,crisis_cell,Alerte\n"
        + "INJ-3,12,crisis_cell,incident.assigned,,,,assignee_not_competent;not_assignee,,,,\n"
    )
    rows, problems = parse_inject_table(text, "table.csv")
    assert problems == []
    injects = {inject.id: (inject, line) for inject, line in rows}
    first, line = injects["INJ-1"]
    assert line == 2
    assert (first.at, first.by, first.sector, first.subject) == (
        timedelta(minutes=5),
        "PM-1",
        "terreaux",
        "INC-1",
    )
    assert first.event == "fr.interforces.incident.reported"
    assert first.payload == {"incident": "INC-1"}
    second, line = injects["INJ-2"]
    assert line == 4  # the blank line is skipped, not renumbered
    assert second.at == timedelta(hours=1, minutes=10, seconds=30)
    assert second.payload == {"target": "crisis_cell", "message": "Alerte"}
    third, _ = injects["INJ-3"]
    assert third.at == timedelta(minutes=12)
    assert third.refused == (ReasonCode.ASSIGNEE_NOT_COMPETENT, ReasonCode.NOT_ASSIGNEE)


def test_faults_name_their_row_and_column() -> None:
    text = (
        HEADER
        + "INJ-1,bientôt,PM-1,incident.reported,,,,,,,,\n"
        + "INJ-2,+00:01,PM-1,incident.reported,,,,,,[1],,\n"
        + "INJ-3,+00:01,PM-1,nothing.at_all,,,,,,,,\n"
        + "INJ-4,+00:01,PM-1,incident.reported,,,,no_such_code,,,,\n"
    )
    rows, problems = parse_inject_table(text, "table.csv")
    assert rows == []
    assert [(p.line, p.path) for p in problems] == [
        (2, "at"),
        (3, "payload"),
        (4, "event"),
        (5, "refused.0"),
    ]
    assert str(problems[1]) == "table.csv:3: payload: the payload is a JSON object"


def test_a_table_without_its_columns_is_refused_at_line_one() -> None:
    rows, problems = parse_inject_table("id,when,by\nINJ-1,+00:01,PM-1\n", "t.csv")
    assert rows == []
    assert [(p.line, p.message) for p in problems] == [
        (1, "missing column 'at'"),
        (1, "missing column 'event'"),
        (1, "unknown column 'when'"),
    ]
