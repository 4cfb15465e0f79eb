"""The deliberate out-of-perimeter attempts of the evening, and how the coordinator must
answer each (the exact reason codes)."""

from __future__ import annotations

from typing import Final

from contracts.reasons import ReasonCode
from simulations.festival.model import Refusal

PRIVATE_SECURITY_OFF_SITE: Final = Refusal(
    name="securite-privee-hors-site",
    codes=frozenset({ReasonCode.OUTSIDE_TERRITORY}),
    why="Un agent de sécurité privée de l'Opéra signale un vol depuis la rue de la "
    "République : hors du site sous contrat, il n'a pas de territoire.",
)
PRIVATE_SECURITY_ON_A_FIGHT: Final = Refusal(
    name="securite-privee-rixe",
    codes=frozenset({ReasonCode.NOT_COMPETENT_CATEGORY}),
    why="Le filtrage de l'Opéra déclare une rixe comme incident de site : aucune catégorie "
    "violente n'est de sa compétence.",
)
MEDIATION_ON_A_FIGHT: Final = Refusal(
    name="mediation-sur-rixe",
    codes=frozenset({ReasonCode.ASSIGNEE_NOT_COMPETENT, ReasonCode.VIOLENT_SITUATION_FORBIDDEN}),
    why="La cellule affecte une rixe aux médiateurs les plus proches : jamais de médiateurs "
    "sur une situation violente, la police nationale est compétente.",
)
REINFORCEMENT_BEFORE_ITS_WINDOW: Final = Refusal(
    name="renfort-avant-sa-vacation",
    codes=frozenset({ReasonCode.OUTSIDE_ACTOR_WINDOW}),
    why="Un binôme de médiateurs en renfort rend compte avant le début de sa vacation.",
)
MUNICIPAL_POLICE_MEDIATES: Final = Refusal(
    name="police-municipale-mediation",
    codes=frozenset({ReasonCode.NOT_COMPETENT_TYPE, ReasonCode.MISSING_CAPABILITY}),
    why="Une patrouille de police municipale ouvre elle-même une médiation : ni la "
    "compétence ni le moyen (médiation) ne sont les siens, pas de substitution.",
)
ACK_BY_SUBSTITUTION: Final = Refusal(
    name="accuse-reception-par-substitution",
    codes=frozenset({ReasonCode.NOT_ASSIGNEE}),
    why="Une patrouille de police municipale accuse réception d'un vol affecté à la police "
    "nationale : seul le service affecté répond.",
)

#: Every deliberate refusal the evening holds, once each.
DELIBERATE: Final = (
    PRIVATE_SECURITY_OFF_SITE,
    PRIVATE_SECURITY_ON_A_FIGHT,
    MEDIATION_ON_A_FIGHT,
    REINFORCEMENT_BEFORE_ITS_WINDOW,
    MUNICIPAL_POLICE_MEDIATES,
    ACK_BY_SUBSTITUTION,
)
