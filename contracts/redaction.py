"""What a recipient's copy of a record loses: fields reset to their defaults, positions
coarsened. The coordinator renders feed copies with it, and the crisis-cell API shows an
agency the same copy its feed received."""

from __future__ import annotations

from typing import Any

from contracts.envelope import Envelope
from contracts.events.base import EventPayload
from contracts.geo import GeoPoint
from contracts.routing import RecordDelivery


def reset_fields(payload: EventPayload, names: tuple[str, ...]) -> dict[str, Any]:
    """The update that resets `names` to their defaults (unknown names are ignored)."""
    fields = type(payload).model_fields
    return {n: fields[n].get_default(call_default_factory=True) for n in names if n in fields}


def redact(
    record: Envelope, remove: tuple[str, ...], coarsen: tuple[tuple[str, int], ...]
) -> Envelope:
    """`record` with `remove` reset and each `(field, decimals)` position rounded."""
    if not remove and not coarsen:
        return record
    data = record.data
    update = reset_fields(data, remove)
    for name, decimals in coarsen:
        point = getattr(data, name, None)
        if isinstance(point, GeoPoint):
            update[name] = GeoPoint(lon=round(point.lon, decimals), lat=round(point.lat, decimals))
    return record.model_copy(update={"data": data.model_copy(update=update)})


def copy_for(record: Envelope, delivery: RecordDelivery) -> Envelope:
    """The copy of `record` its recipient received."""
    return redact(record, delivery.remove, delivery.coarsen)
