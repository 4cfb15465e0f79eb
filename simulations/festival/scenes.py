"""The rest of the night: the Opéra's screening and site incidents, identity checks with
their receipts, crowds and the crisis cell's decisions and public alerts, the mediators'
own rounds, and the deliberate out-of-perimeter attempts that are not incidents' steps."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from contracts.events.identity_checks import (
    CheckedPerson,
    CheckGround,
    LegalBasis,
    RecepisseIssued,
)
from contracts.events.mediation import MediationClosed, MediationStarted, MediationTopic
from contracts.events.private_security import EntranceScreeningReported, SiteIncidentReported
from contracts.events.public_safety import (
    CapCategory,
    CapCertainty,
    CapMsgType,
    CapSeverity,
    CapStatus,
    CapUrgency,
    CrisisCellDecisionLogged,
    CrowdDensityReported,
    DensityTrend,
    PublicAlertIssued,
)
from contracts.events.units import UnitPositionReported
from contracts.geo import GeoPoint
from contracts.ids import IncidentId, UnitId
from contracts.vocabulary import Agency, IncidentCategory, Mode, SectorKind, Severity
from simulations.festival.canary import Canary
from simulations.festival.errors import EveningError
from simulations.festival.refusals import (
    MUNICIPAL_POLICE_MEDIATES,
    PRIVATE_SECURITY_OFF_SITE,
    PRIVATE_SECURITY_ON_A_FIGHT,
    REINFORCEMENT_BEFORE_ITS_WINDOW,
)
from simulations.festival.roster import Post
from simulations.festival.script import Script

PN, PM, MED, SP = (
    Agency.POLICE_NATIONALE,
    Agency.POLICE_MUNICIPALE,
    Agency.MEDIATION,
    Agency.SECURITE_PRIVEE,
)
AUTHORITY = "Directeur de cabinet du préfet et adjointe au maire chargée de la sécurité"

# --- the Opéra -----------------------------------------------------------------------------


def write_opera(s: Script) -> None:
    """Screening at the Opéra's entrance, incidents inside the site, and two attempts of
    its private security to step out of its perimeter."""
    entrances = s.places.of_kind(SectorKind.VENUE_ENTRANCE)
    interiors = s.places.of_kind(SectorKind.VENUE_INTERIOR)
    gate = _post_at(s, SP, entrances)
    hall = _post_at(s, SP, interiors)
    if gate is None or hall is None:
        raise EveningError("the evening needs private security at a venue's entrance and hall")
    entrance, interior = gate.home[0], hall.home[0]
    door = s.places.centre(entrance)
    _screening(s, gate, door)
    for hours, text in (
        (2.1, "Refus d'entrée : bouteille en verre, le ton monte, la personne repart."),
        (2.8, "Personne refoulée au filtrage : billet invalide, discussion tendue."),
    ):
        incident = s.new_id("SITE")
        s.report(
            gate,
            s.instant(hours, hours + 0.1),
            SiteIncidentReported(
                incident=IncidentId(incident),
                category=IncidentCategory.ENTRANCE_INCIDENT,
                severity=Severity.MINOR,
                position=s.places.near(door, entrance, s.rng, 3.0),
                description=text,
            ),
            f"site:{incident}",
            sector=entrance,
            subject=incident,
        )
    fight = s.new_id("SITE")
    s.report(
        gate,
        s.instant(2.35, 2.45),
        SiteIncidentReported(
            incident=IncidentId(fight),
            category=IncidentCategory.FIGHT,
            severity=Severity.SERIOUS,
            position=s.places.near(door, entrance, s.rng, 3.0),
            description="Bagarre dans la file d'attente du filtrage.",
        ),
        f"site:{fight}",
        sector=entrance,
        subject=fight,
        refusal=PRIVATE_SECURITY_ON_A_FIGHT,
    )
    # The nearest street outside the contracted site: rue de la République in the festival.
    actor = s.actor(SP)
    outside = [x for x in s.places.geometries if actor is None or x not in actor.sectors]
    street = "republique-cordeliers" if "republique-cordeliers" in outside else outside[0]
    theft = s.new_id("SITE")
    s.report(
        hall,
        s.instant(3.15, 3.25),
        SiteIncidentReported(
            incident=IncidentId(theft),
            category=IncidentCategory.THEFT,
            position=s.places.point_in(street, s.rng),
            description="Agent sorti du site à la poursuite d'un voleur de sac.",
        ),
        f"site:{theft}",
        subject=theft,
        refusal=PRIVATE_SECURITY_OFF_SITE,
    )
    _site_incident_handled(
        s,
        hall,
        interior,
        at=s.instant(3.5, 3.9),
        category=IncidentCategory.MEDICAL,
        severity=Severity.SERIOUS,
        description="Malaise d'une spectatrice au balcon, agents secouristes auprès d'elle.",
        instructions="Faciliter l'accès des sapeurs-pompiers par la place de la Comédie.",
        outcome="Personne évacuée par les sapeurs-pompiers vers l'hôpital",
        decision="Engagement des sapeurs-pompiers à l'Opéra ; la police nationale sécurise "
        "l'accès des secours.",
    )
    _site_incident_handled(
        s,
        hall,
        interior,
        at=s.instant(4.6, 4.9),
        category=IncidentCategory.THEFT,
        severity=Severity.MODERATE,
        description="Vol d'un sac au vestiaire pendant l'entracte.",
        instructions="Recueillir la plainte de la victime au vestiaire.",
        outcome="Plainte orientée vers le commissariat, images du site conservées",
    )


def _post_at(s: Script, agency: Agency, sectors: tuple[str, ...]) -> Post | None:
    return next((p for p in s.posts_of(agency) if set(p.home) & set(sectors)), None)


def _screening(s: Script, gate: Post, door: GeoPoint) -> None:
    """Figures of the entrance every quarter of an hour until the concert is well under way;
    the crowd peaks half an hour before the doors close."""
    peak = s.start + timedelta(hours=2, minutes=15)
    last = min(gate.off, s.start + timedelta(hours=4, minutes=30))
    at = gate.on + timedelta(minutes=15)
    while at < last:
        hours_from_peak = (at - peak).total_seconds() / 3600
        screened = int(60 + 520 * math.exp(-(hours_from_peak**2) / 0.5) * s.rng.uniform(0.8, 1.2))
        s.report(
            gate,
            at,
            EntranceScreeningReported(
                position=door,
                period_start=at - timedelta(minutes=15),
                period_end=at,
                persons_screened=screened,
                items_refused=s.rng.randint(0, screened // 40),
                entries_refused=s.rng.randint(0, 3),
                queue_minutes=max(0, int(screened / 25 + s.rng.uniform(-3, 3))),
            ),
            f"screening:{gate.unit}",
            sector=gate.home[0],
        )
        at += timedelta(minutes=15)


def _site_incident_handled(
    s: Script,
    hall: Post,
    interior: str,
    *,
    at: datetime,
    category: IncidentCategory,
    severity: Severity,
    description: str,
    instructions: str,
    outcome: str,
    decision: str | None = None,
) -> None:
    incident = s.new_id("SITE")
    thread = f"site:{incident}"
    point = s.places.point_in(interior, s.rng)
    s.report(
        hall,
        at,
        SiteIncidentReported(
            incident=IncidentId(incident),
            category=category,
            severity=severity,
            position=point,
            description=description,
        ),
        thread,
        sector=interior,
        subject=incident,
    )
    assigned_at = at + s.minutes(2, 4)
    if decision is not None:
        s.desk(
            at + s.minutes(1, 1.5),
            CrisisCellDecisionLogged(
                decision=decision,
                authority=AUTHORITY,
                rationale="Incident de site : le prestataire n'intervient pas hors de sa mission.",
                incidents=(IncidentId(incident),),
            ),
            thread,
            sector=interior,
            subject=incident,
        )
    busy_until = assigned_at + timedelta(minutes=50)
    assignee = s.pick(PN, interior, assigned_at, busy_until) or s.pick(
        PN, interior, assigned_at, busy_until, busy_ok=True
    )
    if assignee is None or not s.may_handle(PN, category, point):
        raise EveningError("no national police unit can take the Opéra's incident")
    s.assign(
        assigned_at,
        incident,
        assignee,
        sector=interior,
        instructions=instructions,
        thread=thread,
    )
    on_scene = s.respond(assignee, assigned_at + s.minutes(1, 2), incident, point, thread)
    free_at = s.close(
        assignee,
        on_scene + s.minutes(10, 25),
        incident,
        point=point,
        outcome=outcome,
        people_assisted=1,
        thread=thread,
    )
    s.engage(assignee, assigned_at, free_at, point)


# --- identity checks ---------------------------------------------------------------------

_SURNAMES = ("Moreau", "Benali", "Lefèvre", "Nguyen", "Da Silva", "Girard", "Traoré", "Roux")
_GIVEN = ("Karim", "Julie", "Thomas", "Awa", "Lucas", "Inès", "Mehdi", "Camille")
#: Motives in words, each with the ground it falls under.
_MOTIVES = (
    (
        "Réquisitions du procureur de la République : vols en réunion aux abords de la gare",
        CheckGround.PROSECUTOR_REQUISITIONS,
    ),
    (
        "Signalement d'un vol à la tire correspondant à la description de la personne",
        CheckGround.OFFENCE_SUSPECTED,
    ),
    (
        "Présence prolongée près des distributeurs de billets après un signalement",
        CheckGround.OFFENCE_PREPARED,
    ),
)


def write_identity_checks(s: Script, count: int = 8, canary: Canary | None = None) -> None:
    """Identity checks by the national police at the station and in its zone, each with
    the receipt handed to the checked person; the first check's person bears the canary
    identity, if any."""
    kinds = (SectorKind.STATION, SectorKind.POLICE_ZONE)
    zones = set(s.places.of_kind(*kinds)) | {"place-carnot"}
    posts = [p for p in s.posts_of(PN) if set(p.home) & zones]
    if not posts:
        raise EveningError("no national police unit holds the station or the police zone")
    actor = s.actor(PN)
    service = actor.name if actor is not None else "Police nationale"
    for index in range(count):
        post = s.rng.choice(posts)
        at = post.on + (post.off - post.on) * s.rng.uniform(0.05, 0.95)
        at = at.replace(microsecond=0)
        sector = s.rng.choice([x for x in post.home if x in zones])
        check = s.new_id("RCP")
        legal_basis = s.rng.choice((LegalBasis.CPP_78_2_AL1, LegalBasis.CPP_78_2_AL2))
        # Drawn in the order the evening always drew them: the same seed, the same evening.
        motive, ground = s.rng.choice(_MOTIVES)
        position = s.places.point_in(sector, s.rng)
        officer_number = f"{s.rng.randint(0, 9_999_999):07d}"
        grade = s.rng.choice(("Gardien de la paix", "Brigadier-chef", "Sous-brigadier"))
        person = CheckedPerson(
            surname=s.rng.choice(_SURNAMES),
            given_names=s.rng.choice(_GIVEN),
            birth_date=date(s.rng.randint(1970, 2006), s.rng.randint(1, 12), 15),
        )
        if canary is not None and index == 0:
            person = canary.plant_identity(person)
        s.report(
            post,
            at,
            RecepisseIssued(
                check=check,
                legal_basis=legal_basis,
                motives=(motive,),
                ground=ground,
                possible_consequences="Vérification d'identité au poste si l'identité ne peut "
                "être justifiée sur place (art. 78-3 CPP)",
                place=s.places.names[sector],
                position=position,
                checked_at=at,
                officer_number=officer_number,
                grade=grade,
                service=service,
                person=person,
            ),
            f"check:{check}",
            sector=sector,
            subject=check,
        )


# --- crowds, decisions, public alerts ----------------------------------------------------


def _density(hours: float, peak: float, height: float, spread: float) -> float:
    """Persons per m² at `hours` after the start: a base and one evening peak."""
    return 0.6 + height * math.exp(-((hours - peak) ** 2) / spread)


def write_crowds(s: Script) -> None:
    """Densities measured by the city's cameras and at the station, and the crisis cell's
    answers: decisions logged, public alerts issued, updated and cancelled."""
    centre = next((p for p in s.posts_of(PM) if p.period is None), None)
    cameras = [x for x in ("bellecour", "terreaux", "republique-cordeliers") if x in s.places.kinds]
    if centre is not None:
        peaks = {"bellecour": (5.0, 3.6, 0.9), "terreaux": (5.6, 2.2, 1.2)}
        points = {x: s.places.point_in(x, s.rng) for x in cameras}
        at = centre.on + timedelta(minutes=10)
        previous: dict[str, float] = {}
        while at < centre.off - timedelta(minutes=1):
            hours = (at - s.start).total_seconds() / 3600
            for sector in cameras:
                peak, height, spread = peaks.get(sector, (5.0, 1.2, 1.5))
                value = round(
                    min(6.0, _density(hours, peak, height, spread) * s.rng.uniform(0.9, 1.1)), 1
                )
                s.report(
                    centre,
                    at,
                    CrowdDensityReported(
                        position=points[sector],
                        persons_per_m2=value,
                        trend=_trend(previous.get(sector), value),
                    ),
                    f"density:{centre.unit}:{sector}",
                    sector=sector,
                )
                previous[sector] = value
            at += timedelta(minutes=10)
    station_post = next(
        (p for p in s.posts_of(PN) if set(p.home) & set(s.places.of_kind(SectorKind.STATION))),
        None,
    )
    if station_post is not None:
        station = next(x for x in station_post.home if s.places.kinds[x] is SectorKind.STATION)
        at, previous_value = s.start + timedelta(hours=5, minutes=30), None
        while at < station_post.off - timedelta(minutes=1):
            hours = (at - s.start).total_seconds() / 3600
            value = round(_density(hours, 7.4, 2.9, 0.4) * s.rng.uniform(0.9, 1.1), 1)
            s.report(
                station_post,
                at,
                CrowdDensityReported(
                    position=s.places.point_in(station, s.rng),
                    persons_per_m2=value,
                    trend=_trend(previous_value, value),
                ),
                f"density:{station_post.unit}",
                sector=station,
            )
            previous_value = value
            at += timedelta(minutes=15)
    _decisions_and_alerts(s)


def _trend(before: float | None, now: float) -> DensityTrend:
    if before is None or abs(now - before) < 0.2:
        return DensityTrend.STABLE
    return DensityTrend.RISING if now > before else DensityTrend.FALLING


def _decisions_and_alerts(s: Script) -> None:
    status = CapStatus.EXERCISE if s.charter.operation.mode is Mode.EXERCISE else CapStatus.ACTUAL
    s.desk(
        s.start + timedelta(minutes=2),
        CrisisCellDecisionLogged(
            decision="Activation du PC Hôtel de Ville : dispositif de la Fête de la musique en "
            "place avec la police nationale, la police municipale, les médiateurs de nuit et "
            "le prestataire de l'Opéra.",
            authority=AUTHORITY,
            rationale="Arrêté conjoint du préfet et du maire ; chacun à sa place et dans son rôle.",
        ),
        "desk:ouverture",
    )
    square = (
        "bellecour"
        if "bellecour" in s.places.kinds
        else s.places.of_kind(SectorKind.FESTIVITY_ZONE)[0]
    )
    refuge = "antonin-poncet" if "antonin-poncet" in s.places.kinds else square
    thread = f"desk:alerte:{square}"
    when = s.start + timedelta(hours=5, minutes=4)
    s.desk(
        when,
        CrisisCellDecisionLogged(
            decision=f"Régulation des accès à {s.places.names[square]} ; réorientation du "
            f"public vers {s.places.names[refuge]}.",
            authority=AUTHORITY,
            rationale="Densité mesurée par le CSU au-delà de 4 personnes par m², en hausse.",
        ),
        thread,
        sector=square,
    )
    alert = s.desk(
        when + timedelta(minutes=2),
        _alert(
            s,
            square,
            status,
            CapMsgType.ALERT,
            headline=f"Forte affluence : {s.places.names[square]}",
            instruction=f"Évitez {s.places.names[square]} ; rejoignez les scènes voisines ou "
            f"{s.places.names[refuge]}. Suivez les consignes des agents.",
        ),
        thread,
        sector=square,
    )
    s.desk(
        when + timedelta(hours=1, minutes=10),
        _alert(
            s,
            square,
            status,
            CapMsgType.UPDATE,
            headline=f"Affluence redevenue normale : {s.places.names[square]}",
            instruction="L'accès est de nouveau libre. Restez attentifs aux consignes.",
            severity=CapSeverity.MINOR,
            references=s.desk_event_id(alert),
        ),
        thread,
        sector=square,
    )
    station = next(iter(s.places.of_kind(SectorKind.STATION)), None)
    if station is not None:
        thread = f"desk:alerte:{station}"
        when = s.start + timedelta(hours=7, minutes=12)
        s.desk(
            when,
            CrisisCellDecisionLogged(
                decision="Renfort de la compagnie de sécurisation à la gare pour les derniers "
                "départs ; navettes de nuit supplémentaires demandées à l'exploitant.",
                authority=AUTHORITY,
                rationale="Affluence croissante mesurée à la gare après la fin des concerts.",
            ),
            thread,
            sector=station,
        )
        s.desk(
            when + timedelta(minutes=3),
            _alert(
                s,
                station,
                status,
                CapMsgType.ALERT,
                headline=f"Affluence : {s.places.names[station]}",
                instruction="Privilégiez les navettes de nuit au départ des quais ; ne "
                "descendez pas sur les voies.",
                category=CapCategory.TRANSPORT,
                severity=CapSeverity.MODERATE,
            ),
            thread,
            sector=station,
        )
    s.desk(
        s.end - timedelta(minutes=8),
        CrisisCellDecisionLogged(
            decision="Levée progressive du dispositif renforcé ; les forces de l'État restent "
            "jusqu'à 5 h. Bilan partagé avec chaque service demain matin.",
            authority=AUTHORITY,
        ),
        "desk:cloture",
    )


def _alert(
    s: Script,
    sector: str,
    status: CapStatus,
    msg_type: CapMsgType,
    *,
    headline: str,
    instruction: str,
    category: CapCategory = CapCategory.SAFETY,
    severity: CapSeverity = CapSeverity.MODERATE,
    references: str | None = None,
) -> PublicAlertIssued:
    return PublicAlertIssued.model_validate(
        {
            "status": status,
            "msg_type": msg_type,
            "category": category,
            "event": "Forte affluence",
            "urgency": CapUrgency.IMMEDIATE,
            "severity": severity,
            "certainty": CapCertainty.OBSERVED,
            "headline": headline,
            "instruction": instruction,
            "area_desc": s.places.names[sector],
            "area": s.places.areas[sector],
            "position": s.places.centre(sector),
            "references": references,
        }
    )


# --- the mediators' own rounds -------------------------------------------------------------

_ROUNDS = (
    (
        MediationTopic.GATHERING,
        "Rassemblement de jeunes sur les marches, échange sur le bruit "
        "et les déchets, engagement à partir vers 1 h.",
    ),
    (
        MediationTopic.DIALOGUE,
        "Discussion avec des commerçants inquiets de la fermeture "
        "tardive ; relais vers la mairie d'arrondissement.",
    ),
    (
        MediationTopic.NEIGHBOURHOOD,
        "Conflit entre un riverain et un musicien de rue sur l'emplacement ; compromis trouvé.",
    ),
)


def write_rounds(s: Script, count: int = 8, canary: Canary | None = None) -> None:
    """Mediations the mediators open on their own rounds, with their (private) case notes;
    the first one's notes carry the canary phrase, if any."""
    posts = s.posts_of(MED)
    made = 0
    for _ in range(count * 20):
        if made == count or not posts:
            break
        post = s.rng.choice(posts)
        start = s.instant(0.5, 7.4)
        end = start + s.minutes(15, 35)
        if not s.free(post, start - timedelta(minutes=1), end + timedelta(minutes=1)):
            continue
        sector = s.rng.choice(post.home)
        point = s.places.point_in(sector, s.rng)
        topic, notes = s.rng.choice(_ROUNDS)
        if canary is not None and made == 0:
            notes = canary.plant_phrase(notes)
        mediation = s.new_id("MEDIATION")
        thread = f"mediation:{mediation}"
        s.report(
            post,
            start,
            MediationStarted(mediation=mediation, topic=topic, position=point, case_notes=notes),
            thread,
            sector=sector,
            subject=mediation,
        )
        s.report(
            post,
            end,
            MediationClosed(
                mediation=mediation,
                outcome="Échange apaisé, chacun repart",
                case_notes="Aucune suite ; à revoir la semaine prochaine si besoin.",
            ),
            thread,
            sector=sector,
            subject=mediation,
        )
        s.engage(post, start, end, point)
        made += 1


# --- attempts out of the perimeter that are not steps of an incident -----------------------


def write_attempts(s: Script) -> None:
    """A reinforcement that reports before its window, and municipal police that mediates."""
    early = next(
        (
            p
            for p in s.posts_of(MED)
            if p.window[0] > s.start + timedelta(minutes=20) and p.on > s.start
        ),
        None,
    )
    if early is None:
        raise EveningError("the evening needs a reinforcement unit with its own window")
    sector = early.home[0]
    s.report(
        early,
        early.window[0] - s.minutes(8, 14),
        UnitPositionReported(unit=UnitId(early.unit), position=s.places.point_in(sector, s.rng)),
        f"shift:{early.unit}",
        sector=sector,
        refusal=REINFORCEMENT_BEFORE_ITS_WINDOW,
    )
    patrol = next(
        (p for p in s.posts_of(PM) if "saint-jean" in p.home and p.period is not None),
        next((p for p in s.posts_of(PM) if p.period is not None), None),
    )
    if patrol is None:
        raise EveningError("the evening needs a municipal police patrol")
    sector = patrol.home[0]
    mediation = s.new_id("MEDIATION")
    s.report(
        patrol,
        s.instant(5.4, 5.6),
        MediationStarted(
            mediation=mediation,
            topic=MediationTopic.NOISE,
            position=s.places.point_in(sector, s.rng),
        ),
        f"attempt:{mediation}",
        sector=sector,
        subject=mediation,
        refusal=MUNICIPAL_POLICE_MEDIATES,
    )
