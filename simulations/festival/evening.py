"""The script of a Fête de la musique evening on the festival charter.

`build_evening(charter, seed)` writes, deterministically for a seed, every field action of
the 18:00 → 02:00 evening: the units' shifts, the incidents and their handling through the
crisis cell, the Opéra's screening, identity checks with receipts, crowds and public
alerts, the mediators' rounds, and a handful of deliberate out-of-perimeter attempts the
coordinator must refuse (see `refusals.DELIBERATE`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise
from typing import Final

from contracts.charter import Charter
from simulations.festival.canary import Canary
from simulations.festival.errors import EveningError
from simulations.festival.incidents import write_incidents
from simulations.festival.model import Evening
from simulations.festival.scenes import (
    write_attempts,
    write_crowds,
    write_identity_checks,
    write_opera,
    write_rounds,
)
from simulations.festival.script import Script
from simulations.festival.shifts import write_shifts

#: How long the evening lasts from the operation's start (18:00 → 02:00).
EVENING_HOURS: Final = 8.0
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,23}$")


def build_evening(
    charter: Charter,
    seed: int,
    *,
    label: str | None = None,
    hours: float = EVENING_HOURS,
    canary: Canary | None = None,
) -> Evening:
    """The evening's actions on `charter`, the same for the same seed and label.

    `label` (default `s<seed>`) prefixes every id (reports, incidents, mediations, checks):
    an evening played again under another label is new to the coordinator, while the same
    label replays as duplicates. A `canary` puts its identity on the first identity check's
    person and its phrase in the first mediation round's case notes (the evening is
    otherwise the same).
    """
    label = label if label is not None else f"s{seed}"
    if not _LABEL.fullmatch(label):
        raise EveningError(f"label {label!r}: letters, digits and dashes, 24 at most")
    window = charter.operation.window
    start = window.start
    end = min(window.end, start + timedelta(hours=hours))
    script = Script(charter, seed, label, start, end)
    # Stories first (they take units for a while), shifts last (engaged units stay put).
    write_opera(script)
    write_incidents(script)
    write_rounds(script, canary=canary)
    write_identity_checks(script, canary=canary)
    write_crowds(script)
    write_attempts(script)
    write_shifts(script)
    # Stable sort: actions at the same instant keep the order they were written in.
    actions = tuple(sorted(script.actions, key=lambda a: a.at))
    evening = Evening(charter, seed, label, start, end, actions)
    for thread, steps in evening.threads().items():
        if any(b.at <= a.at for a, b in pairwise(steps)):
            raise EveningError(f"thread {thread}: two steps at the same instant or out of order")
    return evening
