"""The decision: every check of the perimeter, in one pure and total function.

A proposal is accepted only if every check holds; otherwise it is refused with every
failing reason. Checks read the proposal, the compiled charter and the known situation,
nothing else: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from fnmatch import fnmatchcase
from typing import cast

from contracts.envelope import Envelope
from contracts.errors import SubjectError
from contracts.events.base import EventPayload, EventTraits
from contracts.events.catalogue import EVENT_CLASSES
from contracts.events.exercise import ExerciseInjected
from contracts.events.incidents import (
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentCorrected,
    IncidentDeclined,
    IncidentQualified,
    IncidentReported,
    IncidentResolved,
)
from contracts.events.private_security import SiteIncidentReported
from contracts.events.public_safety import CapStatus, PublicAlertIssued
from contracts.events.surveillance import (
    DroneFlightEnded,
    DroneFlightStarted,
    VideoAnalyticsAlerted,
    VideoExtractGranted,
    VideoExtractRequested,
)
from contracts.events.units import UnitCheckedIn
from contracts.events.violations import Reason
from contracts.geo import GeoPoint
from contracts.reasons import REASON_MESSAGES, ReasonCode
from contracts.subjects import parse_proposal
from contracts.vocabulary import (
    AGENCY_LABELS,
    ARMED_CATEGORIES,
    CATEGORY_LABELS,
    MODE_LABELS,
    NEVER_ON_VIOLENCE,
    PRIVATE_ACTORS,
    VIOLENT_CATEGORIES,
    Agency,
    Classification,
    IncidentCategory,
    Mode,
)
from services.coordinator.perimeter.compiled import CompiledActor, CompiledCharter
from services.coordinator.perimeter.decision import Decision, Delivery, Proposal
from services.coordinator.perimeter.situation import IncidentState, Situation

Failure = tuple[ReasonCode, str]

_PUBLIC_ALERT_PATTERN = "fr.interforces.public_alert.*"
_CATEGORY_EVENTS = (IncidentReported, IncidentQualified, IncidentCorrected, SiteIncidentReported)
_REPORTS = (IncidentReported, SiteIncidentReported)
_INCIDENT_FLOW = (
    IncidentAssigned,
    IncidentAcknowledged,
    IncidentDeclined,
    IncidentQualified,
    IncidentResolved,
    IncidentCorrected,
)
_AUTHORISED = (
    DroneFlightStarted,
    DroneFlightEnded,
    VideoExtractRequested,
    VideoExtractGranted,
    VideoAnalyticsAlerted,
)
_SPECIAL_KIND = (PublicAlertIssued,)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What each check needs to know of an event class, computed once so that the hot path
    skips the checks that cannot apply (and never asks pydantic for a missing attribute)."""

    traits: EventTraits
    kind_check: bool
    has_unit: bool
    has_position: bool
    has_category: bool
    is_report: bool
    incident_flow: bool
    authorised: bool
    holder_fields: tuple[str, ...]
    public_alert: bool


def _facts_of(cls: type[EventPayload]) -> _Facts:
    traits = cls.TRAITS
    fields = cls.model_fields
    return _Facts(
        traits=traits,
        kind_check=(
            traits.coordinator_only
            or not traits.shareable
            or traits.exercise_only
            or issubclass(cls, _SPECIAL_KIND)
        ),
        has_unit="unit" in fields,
        has_position="position" in fields,
        has_category=issubclass(cls, _CATEGORY_EVENTS),
        is_report=issubclass(cls, _REPORTS),
        incident_flow=issubclass(cls, _INCIDENT_FLOW),
        authorised=issubclass(cls, _AUTHORISED),
        holder_fields=tuple(cls.holder_only_fields()),
        public_alert=fnmatchcase(fields["type"].default, _PUBLIC_ALERT_PATTERN),
    )


_FACTS: dict[type[EventPayload], _Facts] = {cls: _facts_of(cls) for cls in EVENT_CLASSES}


def decide(proposal: Proposal, compiled: CompiledCharter, situation: Situation) -> Decision:
    """Decide a proposal: accepted with its deliveries, or refused with every reason."""
    envelope = proposal.envelope
    data = envelope.data
    facts = _FACTS[type(data)]
    failures: list[Failure] = []
    competent: tuple[Agency, ...] = ()
    operation, mode = compiled.charter.operation.id, compiled.charter.operation.mode
    classification = envelope.classification.stricter(facts.traits.classification)

    if facts.kind_check:
        _check_kind(data, envelope, failures)
    _check_identity(proposal, failures)
    _check_operation(envelope, compiled, failures)
    position = _position(data, facts)
    actor = compiled.actors.get(envelope.agency)
    if actor is None:
        failures.append((ReasonCode.UNKNOWN_ACTOR, _agency(envelope.agency)))
    else:
        units = _units(envelope, facts)
        _check_units(envelope, units, actor, failures)
        _check_competence(data, facts, actor, failures)
        _check_territory(envelope, position, actor, compiled, failures)
        _check_time(proposal, units, actor, compiled, failures)
        _check_capability(facts, actor, failures)
        if facts.authorised:
            _check_authorisations(envelope, data, compiled, failures)
        if facts.incident_flow:
            competent = _check_incident_flow(envelope, data, compiled, situation, failures)

    if failures:
        reasons = tuple(
            Reason(
                code=code,
                message=f"{REASON_MESSAGES[code]} — {detail}" if detail else REASON_MESSAGES[code],
            )
            for code, detail in failures
        )
        # The refusal goes to the crisis cell and to whoever really published (the
        # credentials), not to an agency the envelope may be impersonating.
        publisher = proposal.credentials_agency
        to = dict.fromkeys((Agency.CRISIS_CELL, publisher or Agency.CRISIS_CELL))
        return Decision(
            proposal,
            operation,
            mode,
            classification,
            reasons=reasons,
            deliveries=tuple(Delivery(a) for a in to),
            competent_agencies=competent,
        )
    withheld = tuple(n for n in facts.holder_fields if getattr(data, n) is not None)
    where = position
    if where is None and facts.incident_flow:
        # An assignment or acknowledgement has no place of its own: it happens where its
        # incident is, so that "own sectors" recipients (the reporter) follow its handling.
        known = situation.incidents.get(getattr(data, "incident"))  # noqa: B009
        where = known.position if known is not None else None
    return Decision(
        proposal,
        operation,
        mode,
        classification,
        deliveries=_deliveries(envelope, facts, compiled, where, classification),
        withheld=withheld,
    )


_NO_UNIT: tuple[str | None, ...] = (None,)

#: Unredacted deliveries, built once.
_IN_FULL: dict[Agency, Delivery] = {agency: Delivery(agency) for agency in Agency}


def _units(envelope: Envelope, facts: _Facts) -> tuple[str | None, ...]:
    """Units the proposal names (envelope and payload), or (None,) when it names none."""
    unit = envelope.unit
    own: str | None = getattr(envelope.data, "unit") if facts.has_unit else None  # noqa: B009
    if own is None or own == unit:
        return _NO_UNIT if unit is None else (unit,)
    return (own,) if unit is None else (unit, own)


def _position(data: EventPayload, facts: _Facts) -> GeoPoint | None:
    """The event's position, read only from classes that have the field."""
    return cast("GeoPoint | None", getattr(data, "position")) if facts.has_position else None  # noqa: B009


# --- checks -------------------------------------------------------------------------------


def _check_kind(data: EventPayload, envelope: Envelope, failures: list[Failure]) -> None:
    traits = type(data).TRAITS
    if traits.coordinator_only:
        failures.append((ReasonCode.RESERVED_TO_COORDINATOR, envelope.type))
    if not traits.shareable:
        failures.append((ReasonCode.NOT_SHAREABLE, envelope.type))
    if traits.exercise_only and envelope.mode is not Mode.EXERCISE:
        failures.append((ReasonCode.EXERCISE_ONLY, envelope.type))
    if isinstance(data, PublicAlertIssued):
        exercise = envelope.mode is Mode.EXERCISE
        expected = CapStatus.EXERCISE if exercise else CapStatus.ACTUAL
        if data.status is not expected:
            failures.append(
                (
                    ReasonCode.ALERT_STATUS_MODE_MISMATCH,
                    f"statut {data.status.value} en mode {MODE_LABELS[envelope.mode]}",
                )
            )


def _check_identity(proposal: Proposal, failures: list[Failure]) -> None:
    envelope = proposal.envelope
    try:
        subject = parse_proposal(proposal.subject)
    except SubjectError:
        failures.append((ReasonCode.IDENTITY_MISMATCH, "sujet de proposition invalide"))
        return
    credentials = proposal.credentials_agency
    if len({subject.agency, envelope.agency, credentials}) != 1:
        failures.append(
            (
                ReasonCode.IDENTITY_MISMATCH,
                f"sujet : {_agency(subject.agency)} ; identifiants : "
                f"{_agency(credentials) if credentials else 'aucun'} ; "
                f"enveloppe : {_agency(envelope.agency)}",
            )
        )
    if subject.mode is not envelope.mode:
        failures.append(
            (
                ReasonCode.MODE_MISMATCH,
                f"sujet en mode {MODE_LABELS[subject.mode]}, "
                f"enveloppe en mode {MODE_LABELS[envelope.mode]}",
            )
        )
    if subject.operation != envelope.operation:
        failures.append(
            (
                ReasonCode.WRONG_OPERATION,
                f"sujet {subject.operation}, enveloppe {envelope.operation}",
            )
        )
    if subject.event_type != envelope.type:
        failures.append((ReasonCode.IDENTITY_MISMATCH, "le type du sujet diffère de l'enveloppe"))


def _check_operation(
    envelope: Envelope, compiled: CompiledCharter, failures: list[Failure]
) -> None:
    operation = compiled.charter.operation
    if envelope.operation != operation.id:
        failures.append(
            (ReasonCode.WRONG_OPERATION, f"« {envelope.operation} » au lieu de « {operation.id} »")
        )
    if envelope.mode is not operation.mode:
        failures.append(
            (
                ReasonCode.MODE_MISMATCH,
                f"opération en mode {MODE_LABELS[operation.mode]}, "
                f"événement en mode {MODE_LABELS[envelope.mode]}",
            )
        )


def _check_units(
    envelope: Envelope,
    units: tuple[str | None, ...],
    actor: CompiledActor,
    failures: list[Failure],
) -> None:
    if units is _NO_UNIT:
        return
    for unit in units:
        if unit not in actor.units:
            failures.append((ReasonCode.UNKNOWN_UNIT, f"{unit} ({_agency(actor.agency)})"))
    if len(units) > 1:
        failures.append(
            (ReasonCode.IDENTITY_MISMATCH, "l'unité de l'enveloppe diffère de celle de l'événement")
        )
    data = envelope.data
    if isinstance(data, UnitCheckedIn) and data.armed and not actor.unit_armed(data.unit):
        failures.append((ReasonCode.UNIT_NOT_ARMED, data.unit))


def _check_competence(
    data: EventPayload, facts: _Facts, actor: CompiledActor, failures: list[Failure]
) -> None:
    if data.type not in actor.events:
        failures.append((ReasonCode.NOT_COMPETENT_TYPE, f"{_agency(actor.agency)} : {data.type}"))
    if facts.has_category and isinstance(data, _CATEGORY_EVENTS) and data.category is not None:
        allowed = actor.categories
        if facts.is_report:
            allowed = allowed | actor.witness_categories
        if data.category not in allowed:
            failures.append(
                (
                    ReasonCode.NOT_COMPETENT_CATEGORY,
                    f"{_agency(actor.agency)} : {CATEGORY_LABELS[data.category]}",
                )
            )


def _check_territory(
    envelope: Envelope,
    position: GeoPoint | None,
    actor: CompiledActor,
    compiled: CompiledCharter,
    failures: list[Failure],
) -> None:
    sector = envelope.sector
    # A point inside the declared sector, when the actor holds it, is inside its territory:
    # one point-in-polygon test instead of two on the common path.
    in_declared = (
        position is not None
        and sector is not None
        and sector in actor.sectors
        and compiled.sectors[sector].contains(position.lon, position.lat)
    )
    if (
        position is not None
        and not in_declared
        and not actor.territory.contains(position.lon, position.lat)
    ):
        failures.append(
            (
                ReasonCode.OUTSIDE_TERRITORY,
                f"{_agency(actor.agency)} en ({position.lon:.5f}, {position.lat:.5f})",
            )
        )
    if sector is None:
        return
    if sector not in actor.sectors:
        failures.append((ReasonCode.UNKNOWN_SECTOR, f"{sector} ({_agency(actor.agency)})"))
    elif position is not None and not in_declared:
        failures.append((ReasonCode.SECTOR_POSITION_MISMATCH, sector))


def _check_time(
    proposal: Proposal,
    units: tuple[str | None, ...],
    actor: CompiledActor,
    compiled: CompiledCharter,
    failures: list[Failure],
) -> None:
    envelope = proposal.envelope
    instant = envelope.time
    instant_utc = instant.astimezone(UTC)
    if not compiled.window.contains(instant_utc):
        failures.append((ReasonCode.OUTSIDE_OPERATION_WINDOW, instant.isoformat()))
    elif not all(actor.on_duty(unit, instant_utc) for unit in units):
        failures.append(
            (
                ReasonCode.OUTSIDE_ACTOR_WINDOW,
                " ".join(filter(None, (_agency(actor.agency), envelope.unit)))
                + f" à {instant.isoformat()}",
            )
        )
    if instant > proposal.received_at + compiled.future_tolerance:
        failures.append(
            (
                ReasonCode.TIME_IN_FUTURE,
                f"{instant.isoformat()} reçu à {proposal.received_at.isoformat()}",
            )
        )


def _check_capability(facts: _Facts, actor: CompiledActor, failures: list[Failure]) -> None:
    needed = facts.traits.capability
    if needed is not None and needed not in actor.capabilities:
        failures.append(
            (ReasonCode.MISSING_CAPABILITY, f"{_agency(actor.agency)} : {needed.value}")
        )


def _check_authorisations(
    envelope: Envelope, data: EventPayload, compiled: CompiledCharter, failures: list[Failure]
) -> None:
    agency, instant = envelope.agency, envelope.time
    if isinstance(data, DroneFlightStarted | DroneFlightEnded):
        found = compiled.drones.get(data.authorisation)
        problem = "référence inconnue"
        if found is not None:
            auth, territory = found
            if auth.operator is not agency:
                problem = f"opérateur autorisé : {_agency(auth.operator)}"
            elif not auth.window.contains(instant):
                problem = (
                    f"autorisé de {auth.window.start.isoformat()} à {auth.window.end.isoformat()}"
                )
            elif not territory.contains(data.position.lon, data.position.lat):
                problem = "position hors des secteurs autorisés"
            elif isinstance(data, DroneFlightStarted) and data.max_altitude_m > auth.max_altitude_m:
                problem = f"plafond autorisé {auth.max_altitude_m} m"
            else:
                return
        failures.append((ReasonCode.DRONE_NOT_AUTHORISED, f"{data.authorisation} : {problem}"))
    elif isinstance(data, VideoExtractRequested | VideoExtractGranted):
        found_extract = compiled.video_extracts.get(data.authorisation)
        ok = False
        if found_extract is not None:
            extract, territory = found_extract
            entitled = (
                agency in extract.requesters
                if isinstance(data, VideoExtractRequested)
                else agency is extract.granted_by
            )
            ok = (
                entitled
                and extract.window.contains(instant)
                and territory.contains(data.position.lon, data.position.lat)
            )
        if not ok:
            failures.append((ReasonCode.VIDEO_EXTRACT_NOT_AUTHORISED, data.authorisation))
    elif isinstance(data, VideoAnalyticsAlerted) and not any(
        auth.operator is agency
        and data.category in auth.categories
        and auth.window.contains(instant)
        and territory.contains(data.position.lon, data.position.lat)
        for auth, territory in compiled.video_analytics
    ):
        failures.append((ReasonCode.VIDEO_ANALYTICS_NOT_AUTHORISED, data.camera))


def _check_incident_flow(
    envelope: Envelope,
    data: EventPayload,
    compiled: CompiledCharter,
    situation: Situation,
    failures: list[Failure],
) -> tuple[Agency, ...]:
    """Assignments without substitution; only the assignee acknowledges or declines."""
    if not isinstance(
        data,
        IncidentAssigned
        | IncidentAcknowledged
        | IncidentDeclined
        | IncidentQualified
        | IncidentResolved
        | IncidentCorrected,
    ):
        return ()
    incident = situation.incidents.get(data.incident)
    if incident is None:
        failures.append((ReasonCode.UNKNOWN_INCIDENT, data.incident))
        return ()
    if incident.resolved and not isinstance(data, IncidentCorrected):
        failures.append((ReasonCode.INCIDENT_CLOSED, data.incident))
    if isinstance(data, IncidentAcknowledged | IncidentDeclined):
        if incident.assignee is not envelope.agency:
            failures.append(
                (
                    ReasonCode.NOT_ASSIGNEE,
                    f"{data.incident} est affecté à "
                    f"{_agency(incident.assignee) if incident.assignee else 'personne'}",
                )
            )
        return ()
    if not isinstance(data, IncidentAssigned):
        return ()
    competent = competent_agencies(incident, compiled, envelope)
    if data.assignee in competent:
        assignee = compiled.actors[data.assignee]
        if data.assignee_unit is not None and data.assignee_unit not in assignee.units:
            failures.append(
                (ReasonCode.UNKNOWN_UNIT, f"{data.assignee_unit} ({_agency(data.assignee)})")
            )
        return competent
    named = ", ".join(_agency(a) for a in competent) or "aucun service de la charte"
    failures.append(
        (
            ReasonCode.ASSIGNEE_NOT_COMPETENT,
            f"{_agency(data.assignee)} pour {CATEGORY_LABELS[incident.category]} ; "
            f"compétent(s) : {named}",
        )
    )
    armed = incident.armed_threat or incident.category in ARMED_CATEGORIES
    violent = armed or incident.category in VIOLENT_CATEGORIES
    target = compiled.actors.get(data.assignee)
    if armed and (target is None or not target.armed):
        failures.append((ReasonCode.ARMED_THREAT_REQUIRES_ARMED_FORCE, _agency(data.assignee)))
    if violent and data.assignee in NEVER_ON_VIOLENCE:
        failures.append((ReasonCode.VIOLENT_SITUATION_FORBIDDEN, _agency(data.assignee)))
    return competent


def competent_agencies(
    incident: IncidentState, compiled: CompiledCharter, envelope: Envelope
) -> tuple[Agency, ...]:
    """Agencies that may take an incident: competent for its category, holding its place,
    armed if it is armed, never mediation or private security on violence, on duty now."""
    armed = incident.armed_threat or incident.category in ARMED_CATEGORIES
    violent = armed or incident.category in VIOLENT_CATEGORIES
    position = incident.position
    return tuple(
        agency
        for agency, actor in compiled.actors.items()
        if _handles(actor, incident.category)
        and actor.territory.contains(position.lon, position.lat)
        and (actor.armed or not armed)
        and not (violent and agency in NEVER_ON_VIOLENCE)
        and actor.window.contains(envelope.time.astimezone(UTC))
    )


def _handles(actor: CompiledActor, category: IncidentCategory) -> bool:
    return category in actor.categories and "fr.interforces.incident.acknowledged" in actor.events


# --- distribution -------------------------------------------------------------------------


def _deliveries(
    envelope: Envelope,
    facts: _Facts,
    compiled: CompiledCharter,
    position: GeoPoint | None,
    classification: Classification,
) -> tuple[Delivery, ...]:
    """Every entitled recipient of an accepted event, each with its redaction.

    Doctrine first: the crisis cell and the proposer always; exercise control in exercises;
    restricted events nowhere else; an inject to its target; then the charter's rules, first
    match per recipient, with private security bound to its own sectors and public alerts.
    """
    data = envelope.data
    out = {Agency.CRISIS_CELL: _IN_FULL[Agency.CRISIS_CELL]}
    if envelope.agency in compiled.actors:
        out[envelope.agency] = _IN_FULL[envelope.agency]
    if envelope.mode is Mode.EXERCISE and Agency.EXERCISE_CONTROL in compiled.actors:
        out[Agency.EXERCISE_CONTROL] = _IN_FULL[Agency.EXERCISE_CONTROL]
    if facts.traits.restricted_audience:
        return tuple(out.values())
    if isinstance(data, ExerciseInjected) and data.target in compiled.actors:
        out.setdefault(data.target, _IN_FULL[data.target])
    for route in compiled.routes[envelope.type]:
        actor, rule = route.actor, route.rule
        if actor.agency in out:
            continue
        private = actor.agency in PRIVATE_ACTORS and not facts.public_alert
        if rule.scope == "own_sectors" or private:
            if not _in_sectors(envelope.sector, position, actor):
                continue
            if private and classification is Classification.RESTRICTED:
                continue
        out[actor.agency] = route.delivery
    return tuple(out.values())


def _in_sectors(sector: str | None, position: GeoPoint | None, actor: CompiledActor) -> bool:
    if sector is not None and sector in actor.sectors:
        return True
    return position is not None and actor.territory.contains(position.lon, position.lat)


def _agency(agency: Agency) -> str:
    return AGENCY_LABELS[agency]
