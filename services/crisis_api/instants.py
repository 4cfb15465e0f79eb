"""Instants as people type them during a night operation: ISO 8601, or a local time.

`resolve_instant(text, reference, tz)` reads:

- ISO 8601 with an offset (`2026-06-21T23:47:00+02:00`, `2026-06-21T21:47Z`): that instant;
- ISO 8601 without one (`2026-06-21T23:47`): that wall-clock time in `tz`;
- `HH:MM` or `HH:MM:SS`: that wall-clock time in `tz` within the 24 hours that begin 12 hours
  before `reference` (the operation's start, or its first record).

So for an evening operation starting at 18:00, `23:47` is that evening, `01:30` the night
after, and anything from 06:00 to 17:59 the day of the start. A wall-clock time that occurs
twice (the autumn change) is its first occurrence; one that does not exist (spring) is read
with the offset in force before the change.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The operations' time zone when their charter is unknown.
DEFAULT_TIMEZONE: Final = "Europe/Paris"
#: How far before the reference a bare `HH:MM` may fall.
LOOKBACK: Final = timedelta(hours=12)

_CLOCK = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?")


class InstantError(ValueError):
    """Text that names no instant, or a reference or time zone it cannot be read against."""


def zone_of(tz: str) -> ZoneInfo:
    """The IANA time zone `tz`, or `InstantError`."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InstantError(f"unknown time zone {tz!r}") from exc


def resolve_instant(text: str, reference: datetime, tz: str) -> datetime:
    """The instant `text` names, in `tz` (see the module's rules), or `InstantError`."""
    if reference.utcoffset() is None:
        raise InstantError("the reference instant needs a UTC offset")
    zone = zone_of(tz)
    written = text.strip()
    clock = _CLOCK.fullmatch(written)
    if clock is not None:
        return _local_time(_clock_time(clock, written), reference, zone)
    try:
        parsed = datetime.fromisoformat(written)
    except ValueError as exc:
        raise InstantError(
            f"{text!r} is neither HH:MM, HH:MM:SS nor an ISO 8601 date-time"
        ) from exc
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=zone)
    return _in_zone(parsed, zone)


def _clock_time(clock: re.Match[str], written: str) -> time:
    hour, minute, second = int(clock["h"]), int(clock["m"]), int(clock["s"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise InstantError(f"{written!r} is not a time of day (00:00 to 23:59:59)")
    return time(hour, minute, second)


def _local_time(wall: time, reference: datetime, zone: ZoneInfo) -> datetime:
    """The first `wall` in `zone` at or after `reference - LOOKBACK`."""
    floor = (reference - LOOKBACK).astimezone(zone)
    day = floor.date()
    candidate = datetime.combine(day, wall, tzinfo=zone)
    # Aware datetimes sharing a tzinfo compare as wall-clock times: compare in UTC.
    if candidate.astimezone(UTC) < floor.astimezone(UTC):
        candidate = datetime.combine(day + timedelta(days=1), wall, tzinfo=zone)
    return _in_zone(candidate, zone)


def _in_zone(instant: datetime, zone: ZoneInfo) -> datetime:
    # Through UTC: `astimezone` to an instant's own tzinfo would keep a nonexistent time.
    return instant.astimezone(UTC).astimezone(zone)
