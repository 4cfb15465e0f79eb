"""What a caller may see of a record: the crisis cell and trainers the record itself, an
agency exactly the copy its feed received (same redaction), oversight nothing."""

from __future__ import annotations

from dataclasses import replace

from contracts.redaction import copy_for
from services.crisis_api.auth import Principal, Role
from services.timeline.domain import TimelineRecord


def visible(principal: Principal, record: TimelineRecord) -> TimelineRecord | None:
    """The record as `principal` may see it, or None when it may not see it at all."""
    if not principal.sees_mode(record.mode):
        return None
    if principal.role is not Role.AGENCY:
        return record
    for delivery in record.deliveries or ():
        if delivery.to is principal.agency:
            return replace(record, envelope=copy_for(record.envelope, delivery))
    return None


def delivered_filter(principal: Principal) -> str | None:
    """A jsonb containment value that keeps, in SQL, only records delivered to an agency
    (`deliveries @> $n::jsonb`), or None when the caller is not an agency."""
    if principal.role is not Role.AGENCY or principal.agency is None:
        return None
    return f'[{{"to": "{principal.agency.value}"}}]'
