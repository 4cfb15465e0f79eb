"""Gaps of a valid charter: holes in the continuum, or choices that bend the doctrine.

A charter that loads is well formed (every reference resolves); it may still leave a sector
with nobody to send, give a mediator a fight, or let private security see the whole city.
`find_gaps` lists those, each with a stable code, a message in French for the operator and
a severity: an `error` goes against the doctrine, a `warning` is a hole to look at.

Everything here is pure: a charter in, values out.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from itertools import combinations
from typing import Any, Literal

import shapely

from contracts.charter.model import Actor, Charter, DistributionRule, TimeWindow
from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.events.catalogue import EVENT_TYPES, short_type
from contracts.geo import Area
from contracts.vocabulary import (
    ARMED_CATEGORIES,
    NEVER_ON_VIOLENCE,
    PRIVATE_SECURITY_SECTOR_KINDS,
    VIOLENT_CATEGORIES,
    Agency,
    Capability,
    IncidentCategory,
    Mode,
)

GapSeverity = Literal["warning", "error"]

#: Agencies that pilot or inject rather than act on the ground.
_NOT_ON_THE_GROUND: frozenset[Agency] = frozenset({Agency.CRISIS_CELL, Agency.EXERCISE_CONTROL})

#: Mean Earth radius (m), for the local metric approximation of areas and distances.
_EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEGREE = _EARTH_RADIUS_M * math.pi / 180.0

#: Share of the smaller sector two sectors may overlap before it is reported.
_OVERLAP_TOLERANCE = 0.01

#: Distance (km) from the operation's median point beyond which a sector looks misplaced
#: (longitude and latitude swapped, a typo in a degree).
_OUTLIER_KM = 50.0

_PUBLIC_ALERT_PATTERN = EVENT_TYPE_PREFIX + "public_alert.*"
_DRONE_PATTERN = EVENT_TYPE_PREFIX + "drone.*"
_VIDEO_ANALYTICS_PATTERN = EVENT_TYPE_PREFIX + "video_analytics.*"


class GapCode(StrEnum):
    """Stable codes of the gaps `find_gaps` reports."""

    SECTOR_UNCOVERED = "sector_uncovered"
    CATEGORY_UNASSIGNABLE = "category_unassignable"
    PRIVATE_SECURITY_OUTSIDE_VENUE = "private_security_outside_venue"
    VIOLENT_CATEGORY_FORBIDDEN = "violent_category_forbidden"
    ARMED_CATEGORY_UNARMED = "armed_category_unarmed"
    AUTHORISATION_WINDOW = "authorisation_window"
    AUTHORISATION_AGENCY_ABSENT = "authorisation_agency_absent"
    AUTHORISATION_SECTOR_NOT_HELD = "authorisation_sector_not_held"
    ACTOR_WINDOW = "actor_window"
    UNIT_WINDOW = "unit_window"
    CAPABILITY_MISSING = "capability_missing"
    PRIVATE_SECURITY_DISTRIBUTION = "private_security_distribution"
    DRONE_WITHOUT_AUTHORISATION = "drone_without_authorisation"
    VIDEO_ANALYTICS_WITHOUT_AUTHORISATION = "video_analytics_without_authorisation"
    EXERCISE_EVENT_IN_LIVE = "exercise_event_in_live"
    NO_CRISIS_CELL = "no_crisis_cell"
    SECTOR_OVERLAP = "sector_overlap"
    SECTOR_OUTLIER = "sector_outlier"


@dataclass(frozen=True, slots=True)
class Gap:
    """One gap: a stable code, a message in French for the operator, a severity."""

    code: str
    message: str
    severity: GapSeverity


def find_gaps(charter: Charter) -> list[Gap]:
    """Every gap of a (valid) charter, errors and warnings, in a stable order."""
    gaps: list[Gap] = []
    for rule in (
        _uncovered_sectors,
        _unassignable_categories,
        _private_security_sectors,
        _violent_categories,
        _armed_categories,
        _authorisations,
        _windows,
        _capabilities,
        _private_security_distribution,
        _means_without_authorisation,
        _exercise_events,
        _crisis_cell,
        _overlaps,
        _outliers,
    ):
        gaps.extend(rule(charter))
    return gaps


def has_errors(gaps: list[Gap]) -> bool:
    """Whether any gap goes against the doctrine."""
    return any(g.severity == "error" for g in gaps)


# --- Summaries ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorSummary:
    """One actor at a glance: where, what, with which means, when."""

    agency: Agency
    name: str
    sectors: tuple[str, ...]
    event_types: tuple[str, ...]
    event_count: int
    incident_categories: tuple[IncidentCategory, ...]
    witness_categories: tuple[IncidentCategory, ...]
    armed: bool
    capabilities: tuple[Capability, ...]
    window: TimeWindow
    own_window: bool


@dataclass(frozen=True, slots=True)
class SectorSummary:
    """One sector at a glance, with its area and the agencies holding it."""

    id: str
    name: str
    kind: str
    area_ha: float
    holders: tuple[Agency, ...]


def summary_rows(charter: Charter) -> list[ActorSummary]:
    """Per actor: agency, name, sectors, event types (short), categories, means, window.

    `window` is the actor's service window, the operation's when it has none of its own
    (`own_window` says which).
    """
    rows: list[ActorSummary] = []
    for actor in charter.actors:
        events = tuple(short_type(t) for t in actor.competences.events)
        rows.append(
            ActorSummary(
                agency=actor.agency,
                name=actor.name,
                sectors=tuple(actor.sectors),
                event_types=events,
                event_count=len(events),
                incident_categories=tuple(actor.competences.incident_categories),
                witness_categories=tuple(actor.competences.witness_categories),
                armed=actor.armed,
                capabilities=tuple(actor.capabilities),
                window=actor.window or charter.operation.window,
                own_window=actor.window is not None,
            )
        )
    return rows


def sector_rows(charter: Charter) -> list[SectorSummary]:
    """Per sector: id, name, kind, area in hectares, agencies holding it."""
    return [
        SectorSummary(
            id=sector.id,
            name=sector.name,
            kind=sector.kind.value,
            area_ha=area_hectares(sector.geometry),
            holders=tuple(a.agency for a in charter.actors if sector.id in a.sectors),
        )
        for sector in charter.sectors
    ]


def area_hectares(geometry: Area) -> float:
    """Area of a WGS 84 polygon in hectares, in a local equirectangular approximation
    (one degree of longitude shrinks by cos(latitude)); good to well under 1 % for the size
    of an event's sectors."""
    shape = _shape(geometry)
    latitude = math.radians(shape.centroid.y)
    square_metres = float(shape.area) * _M_PER_DEGREE**2 * math.cos(latitude)
    return square_metres / 10_000.0


# --- Rules --------------------------------------------------------------------------------


def _uncovered_sectors(charter: Charter) -> list[Gap]:
    gaps: list[Gap] = []
    for sector in charter.sectors:
        competent = [
            a
            for a in charter.actors
            if a.agency not in _NOT_ON_THE_GROUND
            and sector.id in a.sectors
            and a.competences.incident_categories
        ]
        if not competent:
            gaps.append(
                _warning(
                    GapCode.SECTOR_UNCOVERED,
                    f"Secteur « {sector.id} » ({sector.name}) : aucun acteur de terrain n'y est "
                    "compétent (hors cellule de crise) ; un incident y resterait sans "
                    "attributaire.",
                )
            )
    return gaps


def _assignable(actor: Actor) -> set[IncidentCategory]:
    """Categories the coordinator may assign to this actor, doctrine applied."""
    if actor.agency in _NOT_ON_THE_GROUND or not actor.sectors:
        return set()
    categories = set(actor.competences.incident_categories)
    if actor.agency in NEVER_ON_VIOLENCE:
        categories -= VIOLENT_CATEGORIES
    if not actor.armed:
        categories -= ARMED_CATEGORIES
    return categories


def _unassignable_categories(charter: Charter) -> list[Gap]:
    assignable: set[IncidentCategory] = set()
    for actor in charter.actors:
        assignable |= _assignable(actor)
    missing = [c.value for c in IncidentCategory if c not in assignable]
    if not missing:
        return []
    return [
        _warning(
            GapCode.CATEGORY_UNASSIGNABLE,
            "Catégories d'incident qu'aucun acteur ne peut se voir attribuer : "
            f"{', '.join(missing)}.",
        )
    ]


def _private_security_sectors(charter: Charter) -> list[Gap]:
    kinds = {s.id: s for s in charter.sectors}
    allowed = ", ".join(sorted(k.value for k in PRIVATE_SECURITY_SECTOR_KINDS))
    gaps: list[Gap] = []
    for actor in charter.actors:
        if actor.agency is not Agency.SECURITE_PRIVEE:
            continue
        for sector_id in actor.sectors:
            sector = kinds.get(sector_id)
            if sector is None or sector.kind in PRIVATE_SECURITY_SECTOR_KINDS:
                continue
            gaps.append(
                _error(
                    GapCode.PRIVATE_SECURITY_OUTSIDE_VENUE,
                    f"La sécurité privée tient le secteur « {sector.id} » de type "
                    f"{sector.kind.value} : elle n'agit que sur les sites sous contrat "
                    f"({allowed}), nulle part ailleurs (doctrine).",
                )
            )
    return gaps


def _violent_categories(charter: Charter) -> list[Gap]:
    gaps: list[Gap] = []
    for actor in charter.actors:
        if actor.agency not in NEVER_ON_VIOLENCE:
            continue
        violent = _sorted(set(actor.competences.incident_categories) & VIOLENT_CATEGORIES)
        if violent:
            gaps.append(
                _error(
                    GapCode.VIOLENT_CATEGORY_FORBIDDEN,
                    f"{_label(actor)} est compétent pour des catégories violentes "
                    f"({', '.join(violent)}) : ni les médiateurs ni la sécurité privée ne sont "
                    "engagés sur une situation violente ou armée (doctrine). Au plus, "
                    "déclarez-les en witness_categories.",
                )
            )
    return gaps


def _armed_categories(charter: Charter) -> list[Gap]:
    gaps: list[Gap] = []
    for actor in charter.actors:
        if actor.armed:
            continue
        armed = _sorted(set(actor.competences.incident_categories) & ARMED_CATEGORIES)
        if armed:
            gaps.append(
                _error(
                    GapCode.ARMED_CATEGORY_UNARMED,
                    f"{_label(actor)} n'est pas armé mais compétent pour une menace armée "
                    f"({', '.join(armed)}) : seules les forces armées la prennent (doctrine).",
                )
            )
    return gaps


def _authorisations(charter: Charter) -> list[Gap]:
    actors = {a.agency: a for a in charter.actors}
    operation = charter.operation.window
    auth = charter.authorisations
    gaps: list[Gap] = []
    # (what, reference, agencies that must be actors, agency that must hold the sectors,
    #  sectors, window)
    items: list[tuple[str, str, list[tuple[str, Agency]], Agency, tuple[str, ...], TimeWindow]]
    items = [
        (
            "drone",
            d.reference,
            [("opérateur", d.operator)],
            d.operator,
            tuple(d.sectors),
            d.window,
        )
        for d in auth.drones
    ]
    items += [
        (
            "extraits vidéo",
            v.reference,
            [*(("demandeur", r) for r in v.requesters), ("centre qui accorde", v.granted_by)],
            v.granted_by,
            tuple(v.sectors),
            v.window,
        )
        for v in auth.video_extracts
    ]
    items += [
        (
            "analyse vidéo",
            v.reference,
            [("opérateur", v.operator)],
            v.operator,
            tuple(v.sectors),
            v.window,
        )
        for v in auth.video_analytics
    ]
    for what, reference, agencies, holder, sectors, window in items:
        where = f"Autorisation {what} « {reference} »"
        if not operation.covers(window):
            gaps.append(
                _warning(
                    GapCode.AUTHORISATION_WINDOW,
                    f"{where} : sa fenêtre {_window(window)} dépasse celle de l'opération "
                    f"{_window(operation)} ; elle ne vaut que pendant l'opération.",
                )
            )
        for role, agency in agencies:
            if agency not in actors:
                gaps.append(
                    _error(
                        GapCode.AUTHORISATION_AGENCY_ABSENT,
                        f"{where} : {role} {agency.value} n'est pas un acteur de la charte.",
                    )
                )
        holder_actor = actors.get(holder)
        if holder_actor is not None:
            outside = [s for s in sectors if s not in holder_actor.sectors]
            if outside:
                gaps.append(
                    _warning(
                        GapCode.AUTHORISATION_SECTOR_NOT_HELD,
                        f"{where} : {holder.value} ne tient pas les secteurs "
                        f"{', '.join(outside)} qu'elle couvre ; ses propositions y seront "
                        "refusées.",
                    )
                )
    return gaps


def _windows(charter: Charter) -> list[Gap]:
    operation = charter.operation.window
    gaps: list[Gap] = []
    for actor in charter.actors:
        if actor.window is not None and not operation.covers(actor.window):
            gaps.append(
                _warning(
                    GapCode.ACTOR_WINDOW,
                    f"{_label(actor)} : sa fenêtre de service {_window(actor.window)} sort de "
                    f"celle de l'opération {_window(operation)}.",
                )
            )
        for unit in actor.units:
            if unit.window is None:
                continue
            if not operation.covers(unit.window):
                gaps.append(
                    _warning(
                        GapCode.UNIT_WINDOW,
                        f"Unité {unit.id} de {actor.agency.value} : sa fenêtre "
                        f"{_window(unit.window)} sort de celle de l'opération "
                        f"{_window(operation)}.",
                    )
                )
            elif actor.window is not None and not actor.window.covers(unit.window):
                gaps.append(
                    _warning(
                        GapCode.UNIT_WINDOW,
                        f"Unité {unit.id} de {actor.agency.value} : sa fenêtre "
                        f"{_window(unit.window)} sort de celle de son acteur "
                        f"{_window(actor.window)}.",
                    )
                )
    return gaps


def _capabilities(charter: Charter) -> list[Gap]:
    gaps: list[Gap] = []
    for actor in charter.actors:
        lacking: dict[Capability, list[str]] = {}
        for event_type in actor.competences.events:
            needed = EVENT_TYPES[event_type].TRAITS.capability
            if needed is not None and needed not in actor.capabilities:
                lacking.setdefault(needed, []).append(short_type(event_type))
        for capability, types in lacking.items():
            gaps.append(
                _warning(
                    GapCode.CAPABILITY_MISSING,
                    f"{_label(actor)} peut proposer {', '.join(types)} sans détenir la "
                    f"capacité {capability.value} : ces propositions seront refusées.",
                )
            )
    return gaps


def _private_security_distribution(charter: Charter) -> list[Gap]:
    gaps: list[Gap] = []
    for i, rule in enumerate(charter.distribution):
        if Agency.SECURITE_PRIVEE not in rule.recipients or rule.scope != "all":
            continue
        beyond = [
            short_type(t) for t in _matched_types(rule) if not fnmatchcase(t, _PUBLIC_ALERT_PATTERN)
        ]
        if beyond:
            shown = ", ".join(beyond[:6]) + (", …" if len(beyond) > 6 else "")
            gaps.append(
                _error(
                    GapCode.PRIVATE_SECURITY_DISTRIBUTION,
                    f"Règle de diffusion n° {i + 1} : la sécurité privée recevrait {shown} hors "
                    "de ses secteurs ; seules les alertes publiques (public_alert.*) lui "
                    "parviennent partout, le reste en own_sectors (doctrine).",
                )
            )
    return gaps


def _means_without_authorisation(charter: Charter) -> list[Gap]:
    auth = charter.authorisations
    flying = {d.operator for d in auth.drones}
    analysing = {v.operator for v in auth.video_analytics}
    gaps: list[Gap] = []
    for actor in charter.actors:
        if _proposes(actor, _DRONE_PATTERN) and actor.agency not in flying:
            gaps.append(
                _warning(
                    GapCode.DRONE_WITHOUT_AUTHORISATION,
                    f"{_label(actor)} peut déclarer des vols de drone mais aucune autorisation "
                    "préfectorale de drone ne le désigne : tout vol sera refusé.",
                )
            )
        if _proposes(actor, _VIDEO_ANALYTICS_PATTERN) and actor.agency not in analysing:
            gaps.append(
                _warning(
                    GapCode.VIDEO_ANALYTICS_WITHOUT_AUTHORISATION,
                    f"{_label(actor)} peut émettre des alertes d'analyse vidéo mais aucune "
                    "autorisation d'analyse algorithmique ne le désigne.",
                )
            )
    return gaps


def _exercise_events(charter: Charter) -> list[Gap]:
    if charter.operation.mode is Mode.EXERCISE:
        return []
    gaps: list[Gap] = []
    for actor in charter.actors:
        injects = [
            short_type(t) for t in actor.competences.events if EVENT_TYPES[t].TRAITS.exercise_only
        ]
        if injects:
            gaps.append(
                _error(
                    GapCode.EXERCISE_EVENT_IN_LIVE,
                    f"{_label(actor)} peut proposer {', '.join(injects)} dans une opération "
                    "réelle : un exercice ne se mêle jamais au réel (doctrine).",
                )
            )
    return gaps


def _crisis_cell(charter: Charter) -> list[Gap]:
    if charter.actor(Agency.CRISIS_CELL) is not None:
        return []
    return [
        _warning(
            GapCode.NO_CRISIS_CELL,
            "Aucune cellule de crise dans la charte : personne ne pilote le continuum "
            "(attribution des incidents, décisions, alertes).",
        )
    ]


def _overlaps(charter: Charter) -> list[Gap]:
    shapes = [(s, _shape(s.geometry)) for s in charter.sectors]
    gaps: list[Gap] = []
    for (a, shape_a), (b, shape_b) in combinations(shapes, 2):
        if not shape_a.intersects(shape_b):
            continue
        shared = float(shape_a.intersection(shape_b).area)
        smaller = min(float(shape_a.area), float(shape_b.area))
        if shared > _OVERLAP_TOLERANCE * smaller:
            gaps.append(
                _warning(
                    GapCode.SECTOR_OVERLAP,
                    f"Les secteurs « {a.id} » et « {b.id} » se chevauchent "
                    f"({100 * shared / smaller:.0f} % du plus petit) : un événement dans la "
                    "zone commune relève des deux.",
                )
            )
    return gaps


def _outliers(charter: Charter) -> list[Gap]:
    if len(charter.sectors) < 2:
        return []
    centres = [(s, _shape(s.geometry).centroid) for s in charter.sectors]
    lon0 = statistics.median(float(c.x) for _, c in centres)
    lat0 = statistics.median(float(c.y) for _, c in centres)
    gaps: list[Gap] = []
    for sector, centre in centres:
        km = _distance_km(lon0, lat0, float(centre.x), float(centre.y))
        if km > _OUTLIER_KM:
            gaps.append(
                _warning(
                    GapCode.SECTOR_OUTLIER,
                    f"Le secteur « {sector.id} » est à {km:.0f} km des autres : longitude et "
                    "latitude inversées, ou coordonnée erronée ?",
                )
            )
    return gaps


# --- Helpers ------------------------------------------------------------------------------


def _shape(geometry: Area) -> Any:
    return shapely.geometry.shape(geometry.model_dump())


def _distance_km(lon0: float, lat0: float, lon: float, lat: float) -> float:
    dx = (lon - lon0) * math.cos(math.radians((lat + lat0) / 2))
    dy = lat - lat0
    return math.hypot(dx, dy) * _M_PER_DEGREE / 1000.0


def _matched_types(rule: DistributionRule) -> list[str]:
    return [t for t in EVENT_TYPES if any(fnmatchcase(t, p) for p in rule.types)]


def _proposes(actor: Actor, pattern: str) -> bool:
    return any(fnmatchcase(t, pattern) for t in actor.competences.events)


def _sorted(categories: set[IncidentCategory]) -> list[str]:
    return sorted(c.value for c in categories)


def _label(actor: Actor) -> str:
    return f"{actor.agency.value} ({actor.name})"


def _window(window: TimeWindow) -> str:
    return f"[{window.start.isoformat()} → {window.end.isoformat()}]"


def _warning(code: GapCode, message: str) -> Gap:
    return Gap(code=code.value, message=message, severity="warning")


def _error(code: GapCode, message: str) -> Gap:
    return Gap(code=code.value, message=message, severity="error")


__all__ = [
    "ActorSummary",
    "Gap",
    "GapCode",
    "GapSeverity",
    "SectorSummary",
    "area_hectares",
    "find_gaps",
    "has_errors",
    "sector_rows",
    "summary_rows",
]
