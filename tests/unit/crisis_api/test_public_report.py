"""The public activity report's suppression and renderings: a count under the threshold is
shown as "< threshold", never its value, and cannot be worked out from a published total."""

from __future__ import annotations

import csv
import io

import pytest

from contracts.vocabulary import Mode
from services.crisis_api.public_report import (
    Counts,
    PublicReport,
    Table,
    public_report_csv,
    public_report_html,
    public_report_of,
    suppressed,
)

pytestmark = pytest.mark.unit


def shown(table: Table) -> dict[str, str]:
    """What a table shows, by label (the total as `total`)."""
    found = {row.label: row.cell.text for row in table.rows}
    if table.total is not None:
        found["total"] = table.total.text
    return found


def test_counts_under_the_threshold_are_shown_as_under_it() -> None:
    table = suppressed(Counts("k", "t", {"theft": 12, "fight": 3, "medical": 4, "lost": 9}), 5)
    assert shown(table) == {"theft": "12", "fight": "< 5", "medical": "< 5", "lost": "9"}
    assert [r.cell.value for r in table.rows if r.cell.text == "< 5"] == [None, None]


def test_a_lone_hidden_count_takes_the_next_smallest_with_it_when_the_total_is_shown() -> None:
    # given a table whose total is published and one count is under the threshold
    table = suppressed(Counts("k", "t", {"theft": 12, "fight": 3, "lost": 7}, total=22), 5)
    # then the next smallest is hidden too: 22 - 12 = 10 tells neither 3 nor 7
    assert shown(table) == {"theft": "12", "fight": "< 5", "lost": "< 5", "total": "22"}


def test_a_small_total_hides_everything() -> None:
    table = suppressed(Counts("k", "t", {"a": 2, "b": 1}, total=3), 5)
    assert shown(table) == {"a": "< 5", "b": "< 5", "total": "< 5"}


def test_rows_follow_their_labels_never_their_counts() -> None:
    table = suppressed(Counts("k", "t", {"c": 1, "a": 40, "b": 2}), 5)
    assert [r.label for r in table.rows] == ["a", "b", "c"]


def test_the_threshold_is_the_callers() -> None:
    table = suppressed(Counts("k", "t", {"a": 2, "b": 1, "c": 0}), 2)
    assert shown(table) == {"a": "2", "b": "< 2", "c": "< 2"}
    assert shown(suppressed(Counts("k", "t", {"a": 1, "b": 0}), 1)) == {"a": "1", "b": "< 1"}
    with pytest.raises(ValueError, match="at least 1"):
        public_report_of([], mode=Mode.LIVE, operation="op", threshold=0)


def report() -> PublicReport:
    return public_report_of(
        [
            Counts("incidents_by_category", "Incidents", {"theft": 12, "fight": 3}, total=15),
            Counts("mediations", "Médiations", {"engagées": 6, "clôturées": 4}),
            Counts("rejections_by_reason", "Refus <b>", {}, total=0),
        ],
        mode=Mode.EXERCISE,
        operation="op-1",
    )


def test_the_csv_has_one_line_per_published_cell() -> None:
    lines = list(csv.DictReader(io.StringIO(public_report_csv(report()))))
    assert [(x["table"], x["label"], x["value"]) for x in lines] == [
        ("incidents_by_category", "fight", "< 5"),
        ("incidents_by_category", "theft", "< 5"),
        ("incidents_by_category", "total", "15"),
        ("mediations", "clôturées", "< 5"),
        ("mediations", "engagées", "6"),
        ("rejections_by_reason", "total", "< 5"),
    ]
    assert {(x["operation"], x["mode"]) for x in lines} == {("op-1", "exercise")}


def test_the_page_shows_the_same_cells_escaped_and_says_exercise() -> None:
    page = public_report_html(report())
    assert "EXERCICE" in page
    assert "Refus &lt;b&gt;" in page
    assert "<script" not in page
    assert page.count("&lt; 5") >= 4
    assert ">3<" not in page
    assert ">12<" not in page
