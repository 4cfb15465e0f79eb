"""A charter's identity, competence, territory, time and capability checks, as Cedar policies.

The benchmark compares our engine with a general-purpose policy engine deciding the same
thing. The translation follows Cedar's entity model:

- principal: the unit that acted (`Unit::"PN-01"`, a member of its agency
  `Agency::"police_nationale"`): the envelope's, else the one the event names; the agency
  itself when no unit is named. Agencies are members of the capabilities they hold
  (`Capability::"drone"`, as a role) and hold their incident and witness categories,
  sectors, unit call signs and service window as attributes; units hold their call sign
  and, for reinforcements, their own window;
- action: the event type (`Action::"fr.interforces.unit.position_reported"`); the types that
  need a means sit in an action group `Action::"requires:<capability>"`;
- resource: the sector the proposal names (`Sector::"…"`, inside the operation), else the
  operation itself;
- context: when it happened (epoch microseconds, a Long: exact at datetime resolution), the
  envelope's agency and type, the credentials, the agency and type of the subject, the unit
  the payload names, the incident category, and the two facts only geometry can tell —
  whether the position lies in the actor's territory and in the named sector — computed by
  shapely on the same prepared geometries as the engine. Context values are plain strings,
  Longs and Booleans: each entity reference in a context costs cedarpy about 11 µs to parse,
  and identity needs only equality.

Policies: one `permit` per actor (membership and competences in the scope; identity,
category, territory and time in the condition) and one `forbid` per capability, for
whoever is not a member of it. A schema is generated too, and the policies are validated
against it when the translation is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cedarpy

from contracts.charter import Actor, Charter, TimeWindow
from contracts.errors import SubjectError
from contracts.events.catalogue import EVENT_TYPES
from contracts.events.incidents import IncidentCorrected, IncidentQualified, IncidentReported
from contracts.events.private_security import SiteIncidentReported
from contracts.geo import GeoPoint
from contracts.reasons import ReasonCode
from contracts.subjects import parse_proposal
from contracts.vocabulary import Capability
from services.coordinator.perimeter.compiled import CompiledCharter
from services.coordinator.perimeter.decision import Decision, Proposal

#: The engine's reason codes this translation decides; the others (mode, kind, future time,
#: authorisations, incident flow…) are outside the comparison.
CEDAR_CHECKS: frozenset[ReasonCode] = frozenset(
    {
        # identity
        ReasonCode.IDENTITY_MISMATCH,
        ReasonCode.UNKNOWN_ACTOR,
        ReasonCode.UNKNOWN_UNIT,
        # competence
        ReasonCode.NOT_COMPETENT_TYPE,
        ReasonCode.NOT_COMPETENT_CATEGORY,
        # territory (the geometry itself is shapely's, for both)
        ReasonCode.OUTSIDE_TERRITORY,
        ReasonCode.UNKNOWN_SECTOR,
        ReasonCode.SECTOR_POSITION_MISMATCH,
        # time
        ReasonCode.OUTSIDE_OPERATION_WINDOW,
        ReasonCode.OUTSIDE_ACTOR_WINDOW,
        # capability
        ReasonCode.MISSING_CAPABILITY,
    }
)


def within_cedar_checks(decision: Decision) -> bool:
    """Our engine's decision restricted to the checks Cedar makes: no failure among them."""
    return decision.codes.isdisjoint(CEDAR_CHECKS)


def _type_of(cls: type[Any]) -> str:
    return str(cls.model_fields["type"].default)


#: Types whose incident category is checked against the actor's competence.
_CATEGORISED = frozenset(
    _type_of(c)
    for c in (IncidentReported, IncidentQualified, IncidentCorrected, SiteIncidentReported)
)
#: Reports, for which witness categories are allowed too.
_REPORTS = (_type_of(IncidentReported), _type_of(SiteIncidentReported))

#: Capabilities some event type requires, in the vocabulary's order.
_GATED = tuple(
    c for c in Capability if any(cls.TRAITS.capability is c for cls in EVENT_TYPES.values())
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_us(instant: datetime) -> int:
    """Microseconds since the epoch, exactly (integer arithmetic on aware datetimes)."""
    return (instant - _EPOCH) // _MICROSECOND


def _requires(capability: Capability) -> str:
    return f"requires:{capability.value}"


def _str(value: str) -> str:
    """A Cedar string literal (identifiers here are printable ASCII; JSON escaping matches)."""
    return json.dumps(value, ensure_ascii=True)


def _uid(kind: str, id_: str) -> dict[str, str]:
    return {"type": kind, "id": id_}


def _ref(kind: str, id_: str) -> dict[str, dict[str, str]]:
    return {"__entity": _uid(kind, id_)}


def _window(window: TimeWindow) -> dict[str, int]:
    return {"start": epoch_us(window.start), "end": epoch_us(window.end)}


@dataclass(frozen=True, slots=True)
class CedarTranslation:
    """A charter as Cedar text: policies, entities (JSON) and schema."""

    policies: str
    entities: list[dict[str, Any]]
    schema: str


def translate(charter: Charter) -> CedarTranslation:
    """Cedar policies, entities and schema deciding the charter's checks listed above."""
    return CedarTranslation(_policies(charter), _entities(charter), _schema())


def _policies(charter: Charter) -> str:
    policies = [_actor_policy(actor, charter.operation.id) for actor in charter.actors]
    policies += [
        f'@id("capability:{c.value}")\n'
        f"forbid (principal, action in Action::{_str(_requires(c))}, resource)\n"
        f"unless {{ principal in Capability::{_str(c.value)} }};\n"
        for c in _GATED
    ]
    return "\n".join(policies)


def _actor_policy(actor: Actor, operation: str) -> str:
    agency = _str(actor.agency.value)
    me = f"Agency::{agency}"
    actions = ",\n    ".join(f"Action::{_str(t)}" for t in actor.competences.events)
    reports = ", ".join(f"Action::{_str(t)}" for t in _REPORTS)
    op = f"Operation::{_str(operation)}"
    return f"""@id("perimeter:{actor.agency.value}")
permit (
  principal in {me},
  action in [
    {actions}
  ],
  resource
)
when {{
  // identity: envelope, credentials and subject name this agency, for this event type;
  // the emitting unit is one of its own (scope), and so is the unit the payload names
  context.agency == {agency} &&
  context has credentials && context.credentials == {agency} &&
  context has subject_agency && context.subject_agency == {agency} &&
  context has subject_type && context.subject_type == context.type &&
  (if context has data_unit
   then {me}.units.contains(context.data_unit) &&
        (if principal is Unit then principal.call_sign == context.data_unit else true)
   else true) &&
  // competence: the incident category (the event type is in the scope above)
  (if context has category
   then {me}.categories.contains(context.category) ||
        (action in [{reports}] && {me}.witness_categories.contains(context.category))
   else true) &&
  // territory: geometry by shapely, sectors here
  context.in_territory &&
  (if resource is Sector
   then {me}.sectors.contains(resource) && context.in_sector
   else true) &&
  // time: the operation's window, the agency's, the unit's
  {op}.window.start <= context.time && context.time < {op}.window.end &&
  {me}.window.start <= context.time && context.time < {me}.window.end &&
  (if principal is Unit && principal has window
   then principal.window.start <= context.time && context.time < principal.window.end
   else true)
}};
"""


def _entities(charter: Charter) -> list[dict[str, Any]]:
    operation = charter.operation
    op_uid = _uid("Operation", operation.id)
    entities: list[dict[str, Any]] = [
        {"uid": op_uid, "attrs": {"window": _window(operation.window)}, "parents": []}
    ]
    entities += [
        {"uid": _uid("Sector", s.id), "attrs": {}, "parents": [op_uid]} for s in charter.sectors
    ]
    for actor in charter.actors:
        agency = _uid("Agency", actor.agency.value)
        competences = actor.competences
        entities.append(
            {
                "uid": agency,
                "attrs": {
                    "categories": [c.value for c in competences.incident_categories],
                    "witness_categories": [c.value for c in competences.witness_categories],
                    "sectors": [_ref("Sector", s) for s in actor.sectors],
                    "units": [u.id for u in actor.units],
                    "window": _window(actor.window or operation.window),
                },
                # Holding a means is membership, as a role is (units inherit it).
                "parents": [_uid("Capability", c.value) for c in actor.capabilities],
            }
        )
        entities += [
            {
                "uid": _uid("Unit", unit.id),
                "attrs": {"call_sign": unit.id}
                | ({"window": _window(unit.window)} if unit.window else {}),
                "parents": [agency],
            }
            for unit in actor.units
        ]
    entities += [
        {"uid": _uid("Capability", c.value), "attrs": {}, "parents": []} for c in Capability
    ]
    entities += [{"uid": _uid("Action", _requires(c)), "attrs": {}, "parents": []} for c in _GATED]
    for event_type, cls in EVENT_TYPES.items():
        needed = cls.TRAITS.capability
        parents = [_uid("Action", _requires(needed))] if needed else []
        entities.append({"uid": _uid("Action", event_type), "attrs": {}, "parents": parents})
    return entities


def _schema() -> str:
    groups = ", ".join(_str(_requires(c)) for c in _GATED)
    lines = [
        "type Window = { start: Long, end: Long };",
        "entity Operation = { window: Window };",
        "entity Sector in [Operation];",
        "entity Capability;",
        "entity Agency in [Capability] = {",
        "  categories: Set<String>, witness_categories: Set<String>,",
        "  sectors: Set<Sector>, units: Set<String>, window: Window",
        "};",
        "entity Unit in [Agency] = { call_sign: String, window?: Window };",
        "type Proposal = {",
        "  time: Long, agency: String, type: String, in_territory: Bool, in_sector: Bool,",
        "  credentials?: String, subject_agency?: String, subject_type?: String,",
        "  data_unit?: String, category?: String",
        "};",
        f"action {groups};",
    ]
    for event_type, cls in EVENT_TYPES.items():
        needed = cls.TRAITS.capability
        member = f" in [{_str(_requires(needed))}]" if needed else ""
        lines.append(
            f"action {_str(event_type)}{member} appliesTo {{\n"
            "  principal: [Agency, Unit], resource: [Operation, Sector], context: Proposal\n};"
        )
    return "\n".join(lines) + "\n"


class CedarPerimeter:
    """A compiled charter's Cedar translation, parsed once, and the request translator."""

    def __init__(self, compiled: CompiledCharter) -> None:
        self.translation = translate(compiled.charter)
        problems = cedarpy.validate_policies(
            self.translation.policies, cedarpy.Schema.from_str(self.translation.schema)
        )
        if not problems.validation_passed:
            raise ValueError(
                "generated Cedar policies do not validate: "
                + "; ".join(str(e) for e in problems.errors)
            )
        # Pre-parsed handles: the fastest honest use of cedarpy (no re-parse per request).
        self.policy_set = cedarpy.PolicySet.from_str(self.translation.policies)
        self.entities = cedarpy.Entities.from_json_str(json.dumps(self.translation.entities))
        self._compiled = compiled

    def request(self, proposal: Proposal) -> dict[str, Any]:
        """The Cedar request for a proposal, territory computed by shapely."""
        envelope = proposal.envelope
        data = envelope.data
        context: dict[str, Any] = {
            "time": epoch_us(envelope.time),
            "agency": envelope.agency.value,
            "type": envelope.type,
        }
        if proposal.credentials_agency is not None:
            context["credentials"] = proposal.credentials_agency.value
        try:
            subject = parse_proposal(proposal.subject)
        except SubjectError:
            pass  # no subject in the context: the permit requires one
        else:
            context["subject_agency"] = subject.agency.value
            context["subject_type"] = subject.event_type
        data_unit = getattr(data, "unit", None)
        if data_unit is not None:
            context["data_unit"] = data_unit
        if data.type in _CATEGORISED:
            category = getattr(data, "category", None)
            if category is not None:
                context["category"] = category.value
        in_territory = in_sector = True
        position = getattr(data, "position", None)
        if isinstance(position, GeoPoint):
            actor = self._compiled.actors.get(envelope.agency)
            in_territory = actor is not None and actor.territory.contains(
                position.lon, position.lat
            )
            if envelope.sector is not None:
                sector = self._compiled.sectors.get(envelope.sector)
                in_sector = sector is not None and sector.contains(position.lon, position.lat)
        context["in_territory"] = in_territory
        context["in_sector"] = in_sector
        return {
            # The unit that acted: the envelope's, else the one the event names (doctrine:
            # a unit named only in the event is still bound by its own window).
            "principal": (
                _uid("Unit", acting)
                if (acting := envelope.unit or data_unit) is not None
                else _uid("Agency", envelope.agency.value)
            ),
            "action": _uid("Action", envelope.type),
            "resource": (
                _uid("Sector", envelope.sector)
                if envelope.sector is not None
                else _uid("Operation", envelope.operation)
            ),
            "context": context,
        }

    def is_authorized(self, proposal: Proposal) -> bool:
        """Cedar's verdict on a proposal, from the proposal (translation included)."""
        return cedarpy.is_authorized(self.request(proposal), self.policy_set, self.entities).allowed

    def is_authorized_requests(self, requests: list[dict[str, Any]]) -> list[bool]:
        """Cedar's verdicts on pre-built requests, in one batch call."""
        results = cedarpy.is_authorized_batch(requests, self.policy_set, self.entities)
        return [r.allowed for r in results]
