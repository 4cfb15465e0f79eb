"""The hierarchy's view of identity checks: who checked, where and why, with counts.

Built from the timeline's `identity_check.recorded` records, which never hold the checked
person's identity (doctrine point 5): the view cannot show what the record does not have.
The crisis cell sees every force's checks, a force its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.events.identity_checks import CheckGround, IdentityCheckRecorded, LegalBasis
from contracts.vocabulary import Mode
from services.crisis_api.auth import Principal, Role
from services.crisis_api.views import delivered_filter, visible
from services.timeline.domain import TimelineRecord
from services.timeline.store import Conn, stored_record

CHECK_TYPE: str = IdentityCheckRecorded.model_fields["type"].default
#: Key of the checks whose ground was not categorised.
UNCATEGORISED = "uncategorised"


class CheckLine(BaseModel):
    """One check as the forces recorded it (no identity)."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(description="Timeline sequence of the record.")
    check: str = Field(description="Id of the check (the receipt number).")
    agency: str = Field(description="The force that checked.")
    unit: str | None = Field(description="The unit that reported it.")
    sector: str | None = Field(description="The sector it was reported in.")
    checked_at: datetime = Field(description="When.")
    place: str = Field(description="Where, in words.")
    legal_basis: LegalBasis = Field(description="On what legal basis.")
    ground: CheckGround | None = Field(description="The ground, as a category.")
    motives: list[str] = Field(description="Why, in words.")
    officer_number: str = Field(description="The officer's number (RIO).")
    grade: str = Field(description="The officer's grade.")
    service: str = Field(description="The officer's service.")


class Tally(BaseModel):
    """Checks sharing one value (a place, a motive…): how many, and which."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The value shared.")
    count: int = Field(description="How many checks.")
    checks: list[str] = Field(description="Their ids, in timeline order.")


class OfficerTally(Tally):
    """Checks made by one officer (`key` is the officer's number)."""

    agency: str = Field(description="The officer's force.")
    grade: str = Field(description="The officer's grade, as last recorded.")
    service: str = Field(description="The officer's service, as last recorded.")


class HierarchyView(BaseModel):
    """Identity checks of one operation by officer, place and motive."""

    model_config = ConfigDict(frozen=True)

    mode: Mode
    operation: str
    agency: str | None = Field(description="The force whose checks these are (None: all).")
    total: int = Field(description="Checks listed.")
    by_officer: list[OfficerTally]
    by_place: list[Tally]
    by_motive: list[Tally] = Field(description="A check with several motives counts for each.")
    by_ground: list[Tally]
    by_legal_basis: list[Tally]
    checks: list[CheckLine] = Field(description="Every check, in timeline order.")


def check_line(record: TimelineRecord) -> CheckLine | None:
    """The check a record holds, or None when it holds none."""
    env, data = record.envelope, record.envelope.data
    if not isinstance(data, IdentityCheckRecorded):
        return None
    return CheckLine(
        seq=record.seq,
        check=data.check,
        agency=env.agency.value,
        unit=env.unit,
        sector=env.sector,
        checked_at=data.checked_at,
        place=data.place,
        legal_basis=data.legal_basis,
        ground=data.ground,
        motives=list(data.motives),
        officer_number=data.officer_number,
        grade=data.grade,
        service=data.service,
    )


def _tallies(lines: list[CheckLine], keys: Callable[[CheckLine], Iterable[str]]) -> list[Tally]:
    found: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        for key in dict.fromkeys(keys(line)):  # a motive stated twice counts once
            found[key].append(line.check)
    ordered = sorted(found.items(), key=lambda item: (-len(item[1]), item[0]))
    return [Tally(key=key, count=len(checks), checks=checks) for key, checks in ordered]


def hierarchy_of(
    records: Iterable[TimelineRecord], *, mode: Mode, operation: str, agency: str | None = None
) -> HierarchyView:
    """The view of the checks among `records` (other records are ignored)."""
    lines = sorted(
        (line for r in records if (line := check_line(r)) is not None), key=lambda x: x.seq
    )
    last_of: dict[str, CheckLine] = {line.officer_number: line for line in lines}
    officers = [
        OfficerTally(
            **tally.model_dump(),
            agency=last_of[tally.key].agency,
            grade=last_of[tally.key].grade,
            service=last_of[tally.key].service,
        )
        for tally in _tallies(lines, lambda x: (x.officer_number,))
    ]
    return HierarchyView(
        mode=mode,
        operation=operation,
        agency=agency,
        total=len(lines),
        by_officer=officers,
        by_place=_tallies(lines, lambda x: (x.place,)),
        by_motive=_tallies(lines, lambda x: x.motives),
        by_ground=_tallies(lines, lambda x: (x.ground.value if x.ground else UNCATEGORISED,)),
        by_legal_basis=_tallies(lines, lambda x: (x.legal_basis.value,)),
        checks=lines,
    )


def checks_of(principal: Principal) -> str | None:
    """Whose checks `principal` may list: an agency its own (its value), others all (None)."""
    if principal.role is Role.AGENCY and principal.agency is not None:
        return principal.agency.value
    return None


async def read_hierarchy(
    conn: Conn, principal: Principal, *, mode: Mode, operation: str
) -> HierarchyView:
    """The view of an operation's checks that `principal` may see, from the projection."""
    agency = checks_of(principal)
    rows = await conn.fetch(
        """SELECT mode, seq, envelope, proposal_id, deliveries FROM timeline_events
           WHERE mode = $1 AND operation = $2 AND type = $3
             AND ($4::text IS NULL OR agency = $4)
             AND ($5::jsonb IS NULL OR deliveries @> $5::jsonb)
           ORDER BY seq""",
        mode.value,
        operation,
        CHECK_TYPE,
        agency,
        delivered_filter(principal),
    )
    records = [v for row in rows if (v := visible(principal, stored_record(row))) is not None]
    return hierarchy_of(records, mode=mode, operation=operation, agency=agency)
