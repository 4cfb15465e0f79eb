"""Instants typed by people: ISO 8601 as written, naive ISO in the operation's time zone, and
a bare HH:MM inside the 24 hours that start 12 hours before the operation's start — so on a
18:00 → 02:00 night `23:47` is that evening and `01:30` the night after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.crisis_api.instants import LOOKBACK, InstantError, resolve_instant

pytestmark = pytest.mark.unit

TZ = "Europe/Paris"
PARIS = ZoneInfo(TZ)
#: Fête de la musique: 18:00 → 02:00, Paris summer time (UTC+2).
START = datetime(2026, 6, 21, 18, 0, tzinfo=PARIS)


def paris(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 6) -> datetime:
    """A wall-clock instant in Paris in 2026."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:00", paris(21, 18)),
        ("23:47", paris(21, 23, 47)),
        ("00:00", paris(22, 0)),
        ("01:30", paris(22, 1, 30)),
        ("1:30", paris(22, 1, 30)),
        ("02:00:30", paris(22, 2, 0, 30)),
        ("05:59:59", paris(22, 5, 59, 59)),
        ("06:00", paris(21, 6)),
        ("12:15", paris(21, 12, 15)),
    ],
)
def test_a_local_time_is_read_on_the_night_of_the_operation(text: str, expected: datetime) -> None:
    found = resolve_instant(text, START, TZ)
    assert found == expected
    assert found.utcoffset() == timedelta(hours=2)


def test_the_reference_may_be_given_in_any_offset() -> None:
    # Given the same start written in UTC (as PostgreSQL returns it)
    in_utc = START.astimezone(UTC)
    # Then the local times read the same
    assert resolve_instant("01:30", in_utc, TZ) == paris(22, 1, 30)
    assert resolve_instant("23:47", in_utc, TZ) == paris(21, 23, 47)


def test_a_winter_night_uses_winter_time_across_the_new_year() -> None:
    new_year = paris(31, 20, month=12)
    found = resolve_instant("00:30", new_year, TZ)
    assert found == datetime(2027, 1, 1, 0, 30, tzinfo=PARIS)
    assert found.utcoffset() == timedelta(hours=1)


def test_an_hour_repeated_by_the_autumn_change_is_its_first_occurrence() -> None:
    # The clocks go back at 03:00 on 25 October 2026: 02:30 happens twice
    found = resolve_instant("02:30", paris(24, 22, month=10), TZ)
    # (an ambiguous time never equals one of another zone: compare in UTC)
    assert found.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_an_hour_skipped_by_the_spring_change_reads_with_the_winter_offset() -> None:
    # The clocks go forward at 02:00 on 29 March 2026: 02:30 does not exist
    found = resolve_instant("02:30", paris(28, 22, month=3), TZ)
    assert found == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert found.hour == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-21T23:47:00+02:00", paris(21, 23, 47)),
        ("2026-06-21T21:47:00Z", paris(21, 23, 47)),
        ("2026-06-21T19:47:00-02:00", paris(21, 23, 47)),
        ("2026-06-22T01:30", paris(22, 1, 30)),
        ("2026-06-22 01:30:15", paris(22, 1, 30, 15)),
        ("  2026-06-21T23:47+02:00 ", paris(21, 23, 47)),
    ],
)
def test_iso_8601_is_that_instant_and_without_offset_the_local_time(
    text: str, expected: datetime
) -> None:
    found = resolve_instant(text, START, TZ)
    assert found == expected
    assert found.tzinfo == PARIS


def test_iso_8601_ignores_the_reference() -> None:
    far = START + timedelta(days=30)
    assert resolve_instant("2026-06-21T23:47+02:00", far, TZ) == paris(21, 23, 47)


@pytest.mark.parametrize(
    "text",
    ["", "noon", "24:00", "23:60", "12:00:60", "12", "12:5", "123:00", "-1:00", "21h30", "T12:00"],
)
def test_text_that_names_no_instant_is_refused_clearly(text: str) -> None:
    with pytest.raises(InstantError, match=r"HH:MM|time of day"):
        resolve_instant(text, START, TZ)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InstantError, match="unknown time zone"):
        resolve_instant("23:00", START, "Europe/Lyon")


def test_a_reference_without_offset_is_refused() -> None:
    with pytest.raises(InstantError, match="UTC offset"):
        resolve_instant("23:00", datetime(2026, 6, 21, 18, 0), TZ)


def test_an_instant_error_is_a_value_error() -> None:
    assert issubclass(InstantError, ValueError)


@given(
    reference=st.datetimes(
        min_value=datetime(2026, 5, 2),  # hypothesis takes naive bounds
        max_value=datetime(2026, 9, 28),
        timezones=st.just(PARIS),
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_a_local_time_falls_in_the_24_hours_around_the_reference(
    reference: datetime, hour: int, minute: int
) -> None:
    # (no clock change within 12 hours of these references)
    found = resolve_instant(f"{hour:02d}:{minute:02d}", reference, TZ)
    assert reference - LOOKBACK <= found < reference - LOOKBACK + timedelta(days=1)
    assert (found.hour, found.minute, found.second) == (hour, minute, 0)
