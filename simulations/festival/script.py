"""The pen the evening is written with: ids, timed actions, units' availability, and the
charter's perimeters as the script reads them (so that what should pass, passes)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.charter import Actor, Charter
from contracts.events.base import EventPayload
from contracts.events.incidents import (
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentResolved,
)
from contracts.events.units import UnitStatusChanged
from contracts.geo import GeoPoint
from contracts.ids import IncidentId, UnitId, derived_event_id
from contracts.vocabulary import (
    ARMED_CATEGORIES,
    NEVER_ON_VIOLENCE,
    VIOLENT_CATEGORIES,
    Agency,
    IncidentCategory,
    UnitStatus,
)
from simulations.festival.errors import EveningError
from simulations.festival.model import Action, Refusal, Via
from simulations.festival.places import Places
from simulations.festival.roster import Post, build_roster
from simulations.field.desk import DESK_UNIT, desk_source

_ACKNOWLEDGED = "fr.interforces.incident.acknowledged"


@dataclass(frozen=True, slots=True)
class Engagement:
    """A unit taken by something (an incident, a mediation, a break) for a while, there."""

    start: datetime
    end: datetime
    position: GeoPoint
    sector: str


class Script:
    """Accumulates the evening's actions; every story writes through it."""

    def __init__(
        self, charter: Charter, seed: int, label: str, start: datetime, end: datetime
    ) -> None:
        self.charter = charter
        self.label = label
        self.start = start
        self.end = end
        self.rng = random.Random(seed)  # noqa: S311 (a reproducible evening, not secrets)
        self.places = Places(charter)
        self.posts = build_roster(charter, start, end, self.rng)
        self.actions: list[Action] = []
        self.engagements: dict[str, list[Engagement]] = {u: [] for u in self.posts}
        self._serials: Counter[str] = Counter()
        if self.actor(Agency.CRISIS_CELL) is None:
            raise EveningError("the charter has no crisis cell: nobody would assign incidents")

    # --- the charter, as the script reads it ------------------------------------------------

    def actor(self, agency: Agency) -> Actor | None:
        """The actor of an agency, if any."""
        return self.charter.actor(agency)

    def posts_of(self, agency: Agency) -> list[Post]:
        """An agency's posts, in charter order."""
        return [p for p in self.posts.values() if p.agency is agency]

    def in_territory(self, agency: Agency, point: GeoPoint) -> str | None:
        """The sector of the agency's territory holding the point, if any."""
        actor = self.actor(agency)
        return self.places.sector_of(point, actor.sectors) if actor else None

    def may_report(self, agency: Agency, category: IncidentCategory) -> bool:
        """Whether an agency may report an incident of a category (witness included)."""
        actor = self.actor(agency)
        if actor is None or "fr.interforces.incident.reported" not in actor.competences.events:
            return False
        competences = actor.competences
        return category in competences.incident_categories + competences.witness_categories

    def may_handle(self, agency: Agency, category: IncidentCategory, point: GeoPoint) -> bool:
        """Whether the coordinator would let the crisis cell assign such an incident there
        to the agency (its competence, territory, arms, and never violence for some)."""
        actor = self.actor(agency)
        if actor is None:
            return False
        armed = category in ARMED_CATEGORIES
        violent = armed or category in VIOLENT_CATEGORIES
        return (
            category in actor.competences.incident_categories
            and _ACKNOWLEDGED in actor.competences.events
            and self.in_territory(agency, point) is not None
            and (actor.armed or not armed)
            and not (violent and agency in NEVER_ON_VIOLENCE)
        )

    # --- units ------------------------------------------------------------------------------

    def free(self, post: Post, start: datetime, end: datetime) -> bool:
        """Whether a unit is on duty and not engaged over [start, end]."""
        return post.covers(start, end) and not any(
            e.start < end and start < e.end for e in self.engagements[post.unit]
        )

    def pick(
        self,
        agency: Agency,
        sector: str,
        start: datetime,
        end: datetime,
        *,
        busy_ok: bool = False,
        centres: bool = False,
    ) -> Post | None:
        """A unit of the agency for [start, end]: free ones first, those at home in the
        sector first; None when no unit is on duty for the whole span. A centre that never
        moves (the video centre) is only picked when `centres`: it sees, it does not go."""
        on_duty = [
            p
            for p in self.posts_of(agency)
            if p.covers(start, end) and (centres or p.period is not None)
        ]
        free = [p for p in on_duty if self.free(p, start, end)]
        pool = free or (on_duty if busy_ok else [])
        if not pool:
            return None
        at_home = [p for p in pool if sector in p.home]
        return self.rng.choice(at_home or pool)

    def engage(self, post: Post, start: datetime, end: datetime, point: GeoPoint) -> None:
        """Note a unit is taken over [start, end] at a point of its territory."""
        sector = self.in_territory(post.agency, point)
        if sector is None:
            raise EveningError(f"{post.unit} engaged outside its territory")
        self.engagements[post.unit].append(Engagement(start, end, point, sector))

    # --- ids and times ----------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh id of the evening (`<label>-<prefix>-<n>`)."""
        self._serials[prefix] += 1
        return f"{self.label}-{prefix}-{self._serials[prefix]:03d}"

    def minutes(self, low: float, high: float) -> timedelta:
        """A random span, to the second."""
        return timedelta(seconds=round(self.rng.uniform(low, high) * 60))

    def instant(self, from_hours: float, to_hours: float) -> datetime:
        """A random instant between two offsets (hours after the evening's start)."""
        return self.start + self.minutes(from_hours * 60, to_hours * 60)

    # --- actions ----------------------------------------------------------------------------

    def report(
        self,
        post: Post,
        at: datetime,
        payload: EventPayload,
        thread: str,
        *,
        sector: str | None = None,
        subject: str | None = None,
        refusal: Refusal | None = None,
    ) -> Action:
        """A unit's report."""
        return self._add(
            Via.UNIT, post.agency, post.unit, at, payload, thread, sector, subject, refusal
        )

    def desk(
        self,
        at: datetime,
        payload: EventPayload,
        thread: str,
        *,
        sector: str | None = None,
        subject: str | None = None,
        refusal: Refusal | None = None,
    ) -> Action:
        """A crisis-cell proposal from its desk."""
        return self._add(
            Via.DESK, Agency.CRISIS_CELL, DESK_UNIT, at, payload, thread, sector, subject, refusal
        )

    def _add(  # noqa: PLR0917 (the fields of an action, in one private call)
        self,
        via: Via,
        agency: Agency,
        unit: str,
        at: datetime,
        payload: EventPayload,
        thread: str,
        sector: str | None,
        subject: str | None,
        refusal: Refusal | None,
    ) -> Action:
        self._serials[unit] += 1
        key = f"{self.label}-{unit}-{self._serials[unit]:04d}"
        if not self.start <= at < self.end:
            raise EveningError(f"{key} at {at.isoformat()}: outside the evening")
        action = Action(
            key=key,
            at=at,
            via=via,
            agency=agency,
            unit=unit,
            event=payload.model_dump(mode="json", exclude_none=True),
            sector=sector,
            subject=subject,
            thread=thread,
            refusal=refusal,
        )
        self.actions.append(action)
        return action

    # --- the steps every handled incident goes through --------------------------------------

    def assign(
        self,
        at: datetime,
        incident: str,
        post: Post,
        *,
        sector: str,
        instructions: str,
        thread: str,
        refusal: Refusal | None = None,
    ) -> Action:
        """The crisis cell assigns an incident to a unit's agency, naming the unit."""
        payload = IncidentAssigned(
            incident=IncidentId(incident),
            assignee=post.agency,
            assignee_unit=UnitId(post.unit),
            instructions=instructions,
        )
        return self.desk(at, payload, thread, sector=sector, subject=incident, refusal=refusal)

    def respond(
        self, post: Post, at: datetime, incident: str, point: GeoPoint, thread: str
    ) -> datetime:
        """The assignee acknowledges, sets off and arrives; returns when it is on scene."""
        sector = self._own_sector(post, point)
        eta = self.rng.randint(2, 9)
        self.report(
            post,
            at,
            IncidentAcknowledged(incident=IncidentId(incident), eta_minutes=eta),
            thread,
            sector=sector,
            subject=incident,
        )
        self.status(
            post,
            at + timedelta(seconds=20),
            UnitStatus.EN_ROUTE,
            point=point,
            thread=thread,
            incident=incident,
        )
        on_scene = at + timedelta(minutes=eta) + self.minutes(0, 1.5)
        self.status(
            post, on_scene, UnitStatus.ON_SCENE, point=point, thread=thread, incident=incident
        )
        return on_scene

    def close(
        self,
        post: Post,
        at: datetime,
        incident: str,
        *,
        point: GeoPoint,
        outcome: str,
        people_assisted: int | None,
        thread: str,
    ) -> datetime:
        """The assignee resolves the incident and is available again; returns when."""
        sector = self._own_sector(post, point)
        self.report(
            post,
            at,
            IncidentResolved(
                incident=IncidentId(incident), outcome=outcome, people_assisted=people_assisted
            ),
            thread,
            sector=sector,
            subject=incident,
        )
        free_at = at + self.minutes(0.5, 2)
        self.status(post, free_at, UnitStatus.AVAILABLE, point=point, thread=thread, incident=None)
        return free_at

    def status(
        self,
        post: Post,
        at: datetime,
        status: UnitStatus,
        *,
        point: GeoPoint,
        thread: str,
        incident: str | None,
    ) -> Action:
        """A unit's status change, where it is."""
        payload = UnitStatusChanged(
            unit=UnitId(post.unit), status=status, position=point, incident=incident
        )
        return self.report(
            post,
            at,
            payload,
            thread,
            sector=self._own_sector(post, point),
            subject=incident,
        )

    def _own_sector(self, post: Post, point: GeoPoint) -> str:
        sector = self.in_territory(post.agency, point)
        if sector is None:
            raise EveningError(f"{post.unit} would act outside its territory")
        return sector

    def desk_event_id(self, action: Action) -> str:
        """The id the desk gives an action's event (to reference it, as CAP updates do)."""
        return derived_event_id(desk_source(action.unit), action.key)
