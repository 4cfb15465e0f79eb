"""The words of the perimeter: who acts, where, on what, with which means.

French institutional terms are kept where they are the precise word (see the glossary in
the README); everything else is English.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """An operation is either live or an exercise; the two never mix."""

    LIVE = "live"
    EXERCISE = "exercise"


class Agency(StrEnum):
    """An actor that proposes events. The crisis cell pilots; exercise control injects."""

    POLICE_NATIONALE = "police_nationale"
    GENDARMERIE = "gendarmerie"
    POLICE_MUNICIPALE = "police_municipale"
    SECURITE_PRIVEE = "securite_privee"
    MEDIATION = "mediation"
    CRISIS_CELL = "crisis_cell"
    EXERCISE_CONTROL = "exercise_control"


#: Forces of the State entitled to public order, crime and counter-terrorism work.
STATE_FORCES: frozenset[Agency] = frozenset({Agency.POLICE_NATIONALE, Agency.GENDARMERIE})

#: Agencies that may never be sent onto a violent or armed situation (doctrine point 1).
NEVER_ON_VIOLENCE: frozenset[Agency] = frozenset({Agency.MEDIATION, Agency.SECURITE_PRIVEE})

#: Private actors: no access to shared inter-administration data (doctrine point 3).
PRIVATE_ACTORS: frozenset[Agency] = frozenset({Agency.SECURITE_PRIVEE})


class SectorKind(StrEnum):
    """What a sector is; private security may only hold venue sectors."""

    FESTIVITY_ZONE = "festivity_zone"
    VENUE_INTERIOR = "venue_interior"
    VENUE_ENTRANCE = "venue_entrance"
    PUBLIC_SPACE = "public_space"
    STATION = "station"
    POLICE_ZONE = "police_zone"
    GENDARMERIE_ZONE = "gendarmerie_zone"
    TRAFFIC_AXIS = "traffic_axis"
    CRISIS_AREA = "crisis_area"
    ASSEMBLY_POINT = "assembly_point"


#: Sector kinds where private security may work (doctrine point 1: its contracted sites).
PRIVATE_SECURITY_SECTOR_KINDS: frozenset[SectorKind] = frozenset(
    {SectorKind.VENUE_INTERIOR, SectorKind.VENUE_ENTRANCE}
)


class IncidentCategory(StrEnum):
    """What an incident is about; decides who is competent to handle it."""

    NOISE_COMPLAINT = "noise_complaint"
    INCIVILITY = "incivility"
    NEIGHBOURHOOD_CONFLICT = "neighbourhood_conflict"
    INTOXICATION = "intoxication"
    VULNERABLE_PERSON = "vulnerable_person"
    HARASSMENT = "harassment"
    LOST_CHILD = "lost_child"
    MEDICAL = "medical"
    FIGHT = "fight"
    ASSAULT = "assault"
    THEFT = "theft"
    CROWD_SURGE = "crowd_surge"
    ABANDONED_LUGGAGE = "abandoned_luggage"
    SUSPICIOUS_PACKAGE = "suspicious_package"
    FIRE = "fire"
    GAS_LEAK = "gas_leak"
    FLOOD = "flood"
    TRAFFIC = "traffic"
    ENTRANCE_INCIDENT = "entrance_incident"
    URBAN_VIOLENCE = "urban_violence"
    RIOT = "riot"
    ARMED_THREAT = "armed_threat"
    TERRORISM = "terrorism"


#: Categories that are violent or armed by nature: never for mediators or private security.
VIOLENT_CATEGORIES: frozenset[IncidentCategory] = frozenset(
    {
        IncidentCategory.FIGHT,
        IncidentCategory.ASSAULT,
        IncidentCategory.URBAN_VIOLENCE,
        IncidentCategory.RIOT,
        IncidentCategory.ARMED_THREAT,
        IncidentCategory.TERRORISM,
    }
)

#: Categories that imply an armed threat: only armed forces may take them.
ARMED_CATEGORIES: frozenset[IncidentCategory] = frozenset(
    {IncidentCategory.ARMED_THREAT, IncidentCategory.TERRORISM}
)


class Severity(StrEnum):
    """Incident severity, from a nuisance to a threat to life."""

    MINOR = "minor"
    MODERATE = "moderate"
    SERIOUS = "serious"
    CRITICAL = "critical"


class Capability(StrEnum):
    """Means an actor holds; some event types require one."""

    PUBLIC_ORDER = "public_order"
    ARMED_INTERVENTION = "armed_intervention"
    IDENTITY_CHECK = "identity_check"
    SCREENING = "screening"
    SITE_SURVEILLANCE = "site_surveillance"
    DRONE = "drone"
    VIDEO_PROTECTION = "video_protection"
    VIDEO_ANALYTICS = "video_analytics"
    MEDIATION = "mediation"
    TRAFFIC_CONTROL = "traffic_control"
    EVACUATION = "evacuation"
    PUBLIC_ALERTING = "public_alerting"


class Classification(StrEnum):
    """How widely an event may circulate (envelope extension `classification`), from the
    widest to the narrowest."""

    PUBLIC = "public"
    INTERNAL = "internal"
    RESTRICTED = "restricted"

    def stricter(self, other: Classification) -> Classification:
        """The narrower of two classifications."""
        return self if _CLASSIFICATION_RANK[self] >= _CLASSIFICATION_RANK[other] else other


_CLASSIFICATION_RANK = {c: rank for rank, c in enumerate(Classification)}


class UnitStatus(StrEnum):
    """Where a unit stands in its shift."""

    AVAILABLE = "available"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    UNAVAILABLE = "unavailable"


#: How a French operator names each mode.
MODE_LABELS: dict[Mode, str] = {Mode.LIVE: "réel", Mode.EXERCISE: "exercice"}

#: How a French operator names each agency.
AGENCY_LABELS: dict[Agency, str] = {
    Agency.POLICE_NATIONALE: "Police nationale",
    Agency.GENDARMERIE: "Gendarmerie nationale",
    Agency.POLICE_MUNICIPALE: "Police municipale",
    Agency.SECURITE_PRIVEE: "Sécurité privée",
    Agency.MEDIATION: "Médiation sociale",
    Agency.CRISIS_CELL: "Cellule de crise",
    Agency.EXERCISE_CONTROL: "Direction d'exercice",
}

#: How a French operator names each incident category.
CATEGORY_LABELS: dict[IncidentCategory, str] = {
    IncidentCategory.NOISE_COMPLAINT: "nuisances sonores",
    IncidentCategory.INCIVILITY: "incivilité",
    IncidentCategory.NEIGHBOURHOOD_CONFLICT: "conflit de voisinage",
    IncidentCategory.INTOXICATION: "ivresse",
    IncidentCategory.VULNERABLE_PERSON: "personne vulnérable",
    IncidentCategory.HARASSMENT: "harcèlement",
    IncidentCategory.LOST_CHILD: "enfant égaré",
    IncidentCategory.MEDICAL: "secours à personne",
    IncidentCategory.FIGHT: "rixe",
    IncidentCategory.ASSAULT: "agression",
    IncidentCategory.THEFT: "vol",
    IncidentCategory.CROWD_SURGE: "mouvement de foule",
    IncidentCategory.ABANDONED_LUGGAGE: "bagage abandonné",
    IncidentCategory.SUSPICIOUS_PACKAGE: "colis suspect",
    IncidentCategory.FIRE: "incendie",
    IncidentCategory.GAS_LEAK: "fuite de gaz",
    IncidentCategory.FLOOD: "inondation",
    IncidentCategory.TRAFFIC: "circulation",
    IncidentCategory.ENTRANCE_INCIDENT: "incident aux entrées",
    IncidentCategory.URBAN_VIOLENCE: "violences urbaines",
    IncidentCategory.RIOT: "émeute",
    IncidentCategory.ARMED_THREAT: "menace armée",
    IncidentCategory.TERRORISM: "terrorisme",
}
