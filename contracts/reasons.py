"""Stable reason codes for every refusal, with the message a French crisis-cell operator reads.

The codes never change meaning once published; new codes may be added. The catalogue is
data, so that every consumer (coordinator, timeline, API) words a refusal the same way.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why a proposal or an input was refused."""

    # Input that cannot be read at all.
    MALFORMED = "malformed"
    INVALID_ENVELOPE = "invalid_envelope"
    INVALID_PAYLOAD = "invalid_payload"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_REPORT = "invalid_report"
    DEAD_LETTER = "dead_letter"
    # Identity.
    IDENTITY_MISMATCH = "identity_mismatch"
    UNKNOWN_ACTOR = "unknown_actor"
    UNKNOWN_UNIT = "unknown_unit"
    WRONG_OPERATION = "wrong_operation"
    UNKNOWN_OPERATION = "unknown_operation"
    UNIT_NOT_AUTHENTICATED = "unit_not_authenticated"
    DUPLICATE_ID = "duplicate_id"
    # Mode wall.
    MODE_MISMATCH = "mode_mismatch"
    EXERCISE_ONLY = "exercise_only"
    ALERT_STATUS_MODE_MISMATCH = "alert_status_mode_mismatch"
    # What may be proposed at all.
    RESERVED_TO_COORDINATOR = "reserved_to_coordinator"
    NOT_SHAREABLE = "not_shareable"
    RECEPISSE_REQUIRED = "recepisse_required"
    # Competence.
    NOT_COMPETENT_TYPE = "not_competent_type"
    NOT_COMPETENT_CATEGORY = "not_competent_category"
    # Territory.
    OUTSIDE_TERRITORY = "outside_territory"
    UNKNOWN_SECTOR = "unknown_sector"
    SECTOR_POSITION_MISMATCH = "sector_position_mismatch"
    # Time.
    OUTSIDE_OPERATION_WINDOW = "outside_operation_window"
    OUTSIDE_ACTOR_WINDOW = "outside_actor_window"
    TIME_IN_FUTURE = "time_in_future"
    # Capability and authorisation.
    MISSING_CAPABILITY = "missing_capability"
    ARMED_THREAT_REQUIRES_ARMED_FORCE = "armed_threat_requires_armed_force"
    VIOLENT_SITUATION_FORBIDDEN = "violent_situation_forbidden"
    UNIT_NOT_ARMED = "unit_not_armed"
    DRONE_NOT_AUTHORISED = "drone_not_authorised"
    VIDEO_EXTRACT_NOT_AUTHORISED = "video_extract_not_authorised"
    VIDEO_ANALYTICS_NOT_AUTHORISED = "video_analytics_not_authorised"
    # Assignment.
    UNKNOWN_INCIDENT = "unknown_incident"
    ASSIGNEE_NOT_COMPETENT = "assignee_not_competent"
    NOT_ASSIGNEE = "not_assignee"
    INCIDENT_CLOSED = "incident_closed"


#: The operator-facing wording of each code (French, as read in a crisis cell).
REASON_MESSAGES: dict[ReasonCode, str] = {
    ReasonCode.MALFORMED: "Message illisible (JSON invalide)",
    ReasonCode.INVALID_ENVELOPE: "Enveloppe CloudEvents invalide",
    ReasonCode.INVALID_PAYLOAD: "Contenu de l'événement invalide",
    ReasonCode.UNKNOWN_TYPE: "Type d'événement inconnu",
    ReasonCode.UNSUPPORTED_SCHEMA_VERSION: "Version de schéma non prise en charge",
    ReasonCode.PAYLOAD_TOO_LARGE: "Message trop volumineux",
    ReasonCode.INVALID_REPORT: "Compte rendu d'unité invalide (champ manquant ou mal formé)",
    ReasonCode.DEAD_LETTER: (
        "Message abandonné : le coordinateur n'a pu le traiter après plusieurs remises "
        "(consigné sans son contenu)"
    ),
    ReasonCode.IDENTITY_MISMATCH: (
        "Identité incohérente : le sujet, les identifiants et l'enveloppe ne désignent pas "
        "le même service"
    ),
    ReasonCode.UNKNOWN_ACTOR: "Ce service ne figure pas dans la charte de l'opération",
    ReasonCode.UNKNOWN_UNIT: "Unité inconnue de la charte pour ce service",
    ReasonCode.WRONG_OPERATION: "Événement adressé à une autre opération",
    ReasonCode.UNKNOWN_OPERATION: "Opération inconnue : aucune charte chargée sous cet identifiant",
    ReasonCode.UNIT_NOT_AUTHENTICATED: (
        "Unité non authentifiée : identifiant refusé par le service de son administration"
    ),
    ReasonCode.DUPLICATE_ID: (
        "Identifiant déjà enregistré pour un autre contenu : une correction est un nouvel événement"
    ),
    ReasonCode.MODE_MISMATCH: "Cloisonnement exercice / réel : le mode ne correspond pas",
    ReasonCode.EXERCISE_ONLY: "Type d'événement réservé aux exercices",
    ReasonCode.ALERT_STATUS_MODE_MISMATCH: (
        "Alerte publique : le statut CAP doit être « Actual » en réel et « Exercise » en exercice"
    ),
    ReasonCode.RESERVED_TO_COORDINATOR: "Événement réservé au coordinateur",
    ReasonCode.NOT_SHAREABLE: (
        "Donnée nominative : ce document ne quitte pas le service (canal récépissé uniquement)"
    ),
    ReasonCode.RECEPISSE_REQUIRED: (
        "Contrôle d'identité : le récépissé remis à la personne doit être émis, le relevé "
        "s'en déduit"
    ),
    ReasonCode.NOT_COMPETENT_TYPE: "Hors compétence : ce service ne peut émettre ce type",
    ReasonCode.NOT_COMPETENT_CATEGORY: (
        "Hors compétence : ce service ne traite pas cette catégorie d'incident"
    ),
    ReasonCode.OUTSIDE_TERRITORY: "Hors secteur : la position n'est dans aucun secteur du service",
    ReasonCode.UNKNOWN_SECTOR: "Secteur inconnu ou non attribué à ce service",
    ReasonCode.SECTOR_POSITION_MISMATCH: "La position n'est pas dans le secteur indiqué",
    ReasonCode.OUTSIDE_OPERATION_WINDOW: "Hors de la plage horaire de l'opération",
    ReasonCode.OUTSIDE_ACTOR_WINDOW: "Hors de la plage horaire de service de l'acteur",
    ReasonCode.TIME_IN_FUTURE: "Horodatage dans le futur",
    ReasonCode.MISSING_CAPABILITY: "Moyen non détenu par ce service selon la charte",
    ReasonCode.ARMED_THREAT_REQUIRES_ARMED_FORCE: (
        "Menace armée : seule une force armée peut en être chargée"
    ),
    ReasonCode.VIOLENT_SITUATION_FORBIDDEN: (
        "Situation violente ou armée : ni la médiation ni la sécurité privée n'y sont engagées"
    ),
    ReasonCode.UNIT_NOT_ARMED: "Unité déclarée armée alors que la charte ne l'autorise pas",
    ReasonCode.DRONE_NOT_AUTHORISED: (
        "Vol de drone hors autorisation (référence, secteur, plage horaire ou opérateur)"
    ),
    ReasonCode.VIDEO_EXTRACT_NOT_AUTHORISED: "Extraction vidéo hors autorisation",
    ReasonCode.VIDEO_ANALYTICS_NOT_AUTHORISED: (
        "Vidéo algorithmique hors autorisation (secteur, plage horaire ou opérateur)"
    ),
    ReasonCode.UNKNOWN_INCIDENT: "Incident inconnu du coordinateur",
    ReasonCode.ASSIGNEE_NOT_COMPETENT: (
        "Affectation refusée : pas de substitution, le service désigné n'est pas compétent"
    ),
    ReasonCode.NOT_ASSIGNEE: "Seul le service affecté peut accuser réception ou décliner",
    ReasonCode.INCIDENT_CLOSED: "Incident déjà clos : seule une correction reste possible",
}
