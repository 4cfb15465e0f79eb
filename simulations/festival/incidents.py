"""Incidents of a Fête de la musique night, and how each is handled.

The stories come from the source programmes: a harassed woman asks a bar's resource person
for help, fights late at night, very drunk people and vulnerable ones taken care of by the
night mediators, children lost near the stages, residents exasperated by the noise after
midnight, thefts near the crowds and the station, incivilities.

Every handled incident lives the same life: reported by a unit (after a request for help,
sometimes), assigned by the crisis cell to the competent agency after a delay, acknowledged
by the assignee unit, which sets off, arrives, works (qualifies, asks for video, mediates),
and resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.events.incidents import (
    IncidentAcknowledged,
    IncidentDeclined,
    IncidentQualified,
    IncidentReported,
)
from contracts.events.mediation import (
    HelpRequested,
    HelpSituation,
    MediationClosed,
    MediationStarted,
    MediationTopic,
)
from contracts.events.surveillance import VideoExtractGranted, VideoExtractRequested
from contracts.geo import GeoPoint
from contracts.ids import IncidentId
from contracts.vocabulary import Agency, Capability, IncidentCategory, Severity
from simulations.festival.errors import EveningError
from simulations.festival.refusals import ACK_BY_SUBSTITUTION, MEDIATION_ON_A_FIGHT
from simulations.festival.roster import Post
from simulations.festival.script import Script

PN, PM, MED = Agency.POLICE_NATIONALE, Agency.POLICE_MUNICIPALE, Agency.MEDIATION

#: Bars and festivity streets of the Presqu'île and the Vieux Lyon.
BARS = ("merciere-jacobins", "terreaux", "republique-cordeliers", "saint-jean", "celestins")
STAGES = ("bellecour", "terreaux", "republique-cordeliers", "celestins", "merciere-jacobins")
NIGHT = (*BARS, "bellecour", "quai-saint-antoine")
RESIDENTS = ("saint-jean", "quai-saint-antoine", "terreaux", "celestins", "merciere-jacobins")

#: Fictional establishments whose resource person relays requests for help.
RELAYS = (
    "Personne-ressource du bar « Le Comptoir des Cordeliers »",
    "Personne-ressource du bar « La Cave Mercière »",
    "Personne-ressource du pub « L'Ancre des Terreaux »",
    "Serveuse du bar « Les Trois Gones », Saint-Jean",
    "Agent d'accueil de la scène des Célestins",
)


@dataclass(frozen=True, slots=True)
class IncidentKind:
    """A kind of incident of the night: when, where, who reports it, who takes it."""

    name: str
    category: IncidentCategory
    count: int
    hours: tuple[float, float]
    sectors: tuple[str, ...]
    reporters: tuple[Agency, ...]
    handlers: tuple[Agency, ...]
    severity: Severity
    people: tuple[int, int]
    descriptions: tuple[str, ...]
    instructions: tuple[str, ...]
    outcomes: tuple[str, ...]
    on_scene_min: tuple[float, float] = (10.0, 30.0)
    help: HelpSituation | None = None
    mediation: MediationTopic | None = None
    mediation_notes: tuple[str, ...] = ()
    qualify: Severity | None = None
    video: bool = False
    declines: int = 0


KINDS: tuple[IncidentKind, ...] = (
    IncidentKind(
        name="harcelement",
        category=IncidentCategory.HARASSMENT,
        count=8,
        hours=(2.5, 7.3),
        sectors=BARS,
        reporters=(PM, MED),
        handlers=(PM, MED),
        severity=Severity.MODERATE,
        people=(2, 4),
        help=HelpSituation.HARASSMENT,
        descriptions=(
            "Une femme importunée par un groupe s'est réfugiée auprès de la personne-ressource "
            "du bar et demande à être raccompagnée.",
            "Une jeune femme suivie depuis la scène demande de l'aide au comptoir du bar.",
        ),
        instructions=(
            "Prendre en charge la victime, la mettre en sécurité, éloigner les auteurs.",
            "Rejoindre le bar, écouter la victime, la raccompagner vers un point sûr.",
        ),
        outcomes=(
            "Victime mise en sécurité et orientée vers une association d'aide aux victimes",
            "Victime raccompagnée jusqu'à un taxi, auteurs éloignés du secteur",
        ),
    ),
    IncidentKind(
        name="rixe",
        category=IncidentCategory.FIGHT,
        count=7,
        hours=(3.5, 7.5),
        sectors=(*NIGHT, "gare-perrache"),
        reporters=(PM, MED, PN),
        handlers=(PN,),
        severity=Severity.SERIOUS,
        people=(3, 8),
        qualify=Severity.SERIOUS,
        video=True,
        on_scene_min=(15.0, 35.0),
        descriptions=(
            "Bagarre entre deux groupes devant un bar, bouteilles au sol.",
            "Rixe à plusieurs sur la place, la foule s'écarte.",
        ),
        instructions=(
            "Intervenir, séparer les protagonistes, interpeller si nécessaire ; secours prévenus.",
        ),
        outcomes=(
            "Deux personnes interpellées, un blessé léger pris en charge par les secours",
            "Protagonistes séparés et dispersés, aucun blessé",
        ),
    ),
    IncidentKind(
        name="ivresse",
        category=IncidentCategory.INTOXICATION,
        count=12,
        hours=(2.5, 7.6),
        sectors=NIGHT,
        reporters=(PM, MED),
        handlers=(MED, PM),
        severity=Severity.MODERATE,
        people=(1, 1),
        mediation=MediationTopic.INTOXICATION,
        mediation_notes=(
            "Personne très alcoolisée assise au sol, refuse d'abord l'aide ; hydratation, "
            "mise en position latérale, appel au SAMU social.",
            "Jeune homme très ivre, ses amis sont partis ; contact établi avec un proche.",
        ),
        descriptions=(
            "Personne très alcoolisée, ne tient plus debout, seule sur le trottoir.",
            "Un jeune homme très ivre vomit près de la scène, ses amis l'ont laissé.",
        ),
        instructions=("Prendre en charge la personne, évaluer le besoin de secours.",),
        outcomes=(
            "Personne prise en charge par les secours (SAMU social)",
            "Personne raccompagnée par un proche après hydratation",
        ),
    ),
    IncidentKind(
        name="enfant-egare",
        category=IncidentCategory.LOST_CHILD,
        count=4,
        hours=(0.5, 4.0),
        sectors=STAGES,
        reporters=(PM, MED),
        handlers=(PM, MED),
        severity=Severity.SERIOUS,
        people=(1, 1),
        help=HelpSituation.LOST,
        on_scene_min=(8.0, 25.0),
        descriptions=("Un parent a perdu de vue son enfant de six ans près de la scène.",),
        instructions=("Recueillir le signalement, ratisser les abords de la scène.",),
        outcomes=("Enfant retrouvé et remis à ses parents",),
    ),
    IncidentKind(
        name="nuisances",
        category=IncidentCategory.NOISE_COMPLAINT,
        count=10,
        hours=(5.0, 7.6),
        sectors=RESIDENTS,
        reporters=(PM,),
        handlers=(MED, PM),
        severity=Severity.MINOR,
        people=(5, 40),
        mediation=MediationTopic.NOISE,
        mediation_notes=(
            "Riverains excédés ; dialogue avec l'organisateur de la scène ouverte, volume "
            "baissé, rappel de la fin des concerts à 1 h.",
            "Échange avec le gérant du bar et les riverains, engagement à couper la sono.",
        ),
        descriptions=(
            "Riverains excédés par une sono restée très forte après minuit.",
            "Appels répétés d'habitants : musique amplifiée dans une cour d'immeuble.",
        ),
        instructions=("Rencontrer l'organisateur et les riverains, obtenir une baisse du son.",),
        outcomes=(
            "Volume baissé, riverains informés de la fin des concerts",
            "Sonorisation coupée par l'organisateur",
        ),
    ),
    IncidentKind(
        name="personne-vulnerable",
        category=IncidentCategory.VULNERABLE_PERSON,
        count=4,
        hours=(2.0, 7.4),
        sectors=NIGHT,
        reporters=(MED, PM),
        handlers=(MED, PM),
        severity=Severity.MODERATE,
        people=(1, 1),
        help=HelpSituation.VULNERABLE,
        mediation=MediationTopic.VULNERABLE_PERSON,
        mediation_notes=(
            "Personne âgée désorientée, a perdu son groupe et son téléphone ; proches "
            "recontactés par le point d'accueil.",
        ),
        descriptions=("Personne isolée et désorientée, sans téléphone.",),
        instructions=("Rejoindre la personne, l'accompagner vers le point d'accueil.",),
        outcomes=("Personne orientée vers le point d'accueil et recontactée par ses proches",),
    ),
    IncidentKind(
        name="vol",
        category=IncidentCategory.THEFT,
        count=6,
        hours=(1.5, 7.5),
        sectors=("bellecour", "republique-cordeliers", "gare-perrache", "terreaux"),
        reporters=(PM, PN),
        handlers=(PN,),
        severity=Severity.MODERATE,
        people=(1, 2),
        descriptions=("Vol de téléphone à l'arraché signalé par la victime.",),
        instructions=("Recueillir le signalement, rechercher l'auteur aux abords.",),
        outcomes=(
            "Plainte orientée vers le commissariat, signalement diffusé",
            "Auteur interpellé, téléphone restitué",
        ),
    ),
    IncidentKind(
        name="incivilites",
        category=IncidentCategory.INCIVILITY,
        count=7,
        hours=(1.0, 7.5),
        sectors=(*NIGHT, "antonin-poncet"),
        reporters=(PM, MED),
        handlers=(PM, PN),
        severity=Severity.MINOR,
        people=(2, 10),
        declines=2,
        descriptions=(
            "Jets de bouteilles en verre sur la chaussée.",
            "Groupe urinant contre la façade d'un immeuble, riverains à la fenêtre.",
        ),
        instructions=("Faire cesser le trouble, verbaliser si nécessaire.",),
        outcomes=("Contrevenants verbalisés, verre ramassé", "Rappel à la règle, groupe dispersé"),
    ),
)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One incident's life, decided before anything is written."""

    incident: str
    thread: str
    sector: str
    point: GeoPoint
    reporter: Post
    reported_at: datetime
    assigned_at: datetime
    assignee: Post
    help_at: datetime | None = None
    declined_by: Post | None = None
    mistaken_to: Post | None = None
    intruder: Post | None = None
    people: int = 1


def write_incidents(s: Script) -> None:
    """Every kind of incident, `count` times, with the deliberate refusals inside."""
    for kind in KINDS:
        declines = kind.declines
        for n in range(kind.count):
            mistaken = kind.category is IncidentCategory.FIGHT and n == 0
            intruder = kind.category is IncidentCategory.THEFT and n == 0
            placed = _place(s, kind, decline=declines > 0, mistaken=mistaken, intruder=intruder)
            if placed is not None and placed.declined_by is not None:
                declines -= 1
            if (mistaken or intruder) and placed is None:
                raise EveningError(f"no room for the deliberate refusal of a {kind.name}")


def _place(
    s: Script, kind: IncidentKind, *, decline: bool, mistaken: bool, intruder: bool
) -> _Plan | None:
    """Write one incident where and when its units can take it (None: no room found)."""
    for _ in range(60):
        plan = _plan(s, kind, decline=decline, mistaken=mistaken, intruder=intruder)
        if plan is not None:
            _write(s, kind, plan)
            return plan
    return None


def _plan(
    s: Script, kind: IncidentKind, *, decline: bool, mistaken: bool, intruder: bool
) -> _Plan | None:
    rng = s.rng
    sectors = [x for x in kind.sectors if x in s.places.geometries]
    if not sectors:
        return None
    sector = "bellecour" if intruder and "bellecour" in sectors else rng.choice(sectors)
    point = s.places.point_in(sector, rng)
    reported_at = s.instant(*kind.hours)
    help_at = reported_at - s.minutes(1, 3) if kind.help is not None else None
    first = help_at or reported_at
    reporters = [a for a in kind.reporters if s.may_report(a, kind.category)]
    rng.shuffle(reporters)
    reporter = next(
        (
            p
            for a in reporters
            if s.in_territory(a, point) is not None
            for p in [
                s.pick(
                    a,
                    sector,
                    first,
                    reported_at + timedelta(minutes=1),
                    busy_ok=True,
                    centres=kind.help is None,
                )
            ]
            if p is not None
        ),
        None,
    )
    if reporter is None:
        return None
    assigned_at = reported_at + s.minutes(2, 6)
    # The assignee is taken from its assignment to well after the longest possible visit.
    busy_until = assigned_at + timedelta(minutes=30 + kind.on_scene_min[1])
    if busy_until >= s.end - timedelta(minutes=5):
        return None
    handlers = [a for a in kind.handlers if s.may_handle(a, kind.category, point)]
    declined_by = None
    if decline and len(handlers) > 1:
        declined_by = s.pick(handlers[0], sector, assigned_at, busy_until, busy_ok=True)
        handlers = handlers[1:]
    assignee = next(
        (p for a in handlers if (p := s.pick(a, sector, assigned_at, busy_until)) is not None),
        None,
    )
    if assignee is None:
        return None
    mistaken_to = s.pick(MED, sector, assigned_at, busy_until, busy_ok=True) if mistaken else None
    intruder_post = next(
        (p for p in s.posts_of(PM) if sector in p.home and p.covers(assigned_at, busy_until)),
        None,
    )
    if (mistaken and mistaken_to is None) or (intruder and intruder_post is None):
        return None
    incident = s.new_id("INC")
    return _Plan(
        incident=incident,
        thread=f"incident:{incident}",
        sector=sector,
        point=point,
        reporter=reporter,
        reported_at=reported_at,
        assigned_at=assigned_at,
        assignee=assignee,
        help_at=help_at,
        declined_by=declined_by,
        mistaken_to=mistaken_to,
        intruder=intruder_post if intruder else None,
        people=rng.randint(*kind.people),
    )


def _write(s: Script, kind: IncidentKind, plan: _Plan) -> None:
    rng = s.rng
    thread, incident, point, sector = plan.thread, plan.incident, plan.point, plan.sector
    reporter_sector = s.in_territory(plan.reporter.agency, point)
    if plan.help_at is not None and kind.help is not None:
        s.report(
            plan.reporter,
            plan.help_at,
            HelpRequested(
                request=s.new_id("AIDE"),
                situation=kind.help,
                position=point,
                relayed_by=rng.choice(RELAYS),
                description=rng.choice(kind.descriptions),
            ),
            thread,
            sector=reporter_sector,
        )
    s.report(
        plan.reporter,
        plan.reported_at,
        IncidentReported(
            incident=IncidentId(incident),
            category=kind.category,
            severity=kind.severity,
            position=point,
            people_involved=plan.people,
            description=rng.choice(kind.descriptions),
        ),
        thread,
        sector=reporter_sector,
        subject=incident,
    )
    at = plan.assigned_at
    instructions = rng.choice(kind.instructions)
    if plan.mistaken_to is not None:
        s.assign(
            at,
            incident,
            plan.mistaken_to,
            sector=sector,
            instructions="Médiateurs les plus proches : rejoindre la rixe.",
            thread=thread,
            refusal=MEDIATION_ON_A_FIGHT,
        )
        at += s.minutes(1, 2)
    if plan.declined_by is not None:
        s.assign(
            at,
            incident,
            plan.declined_by,
            sector=sector,
            instructions=instructions,
            thread=thread,
        )
        at += s.minutes(1, 2)
        s.report(
            plan.declined_by,
            at,
            IncidentDeclined(
                incident=IncidentId(incident),
                reason="Patrouille déjà engagée sur une autre intervention",
            ),
            thread,
            sector=s.in_territory(plan.declined_by.agency, point),
            subject=incident,
        )
        at += s.minutes(1, 2)
    s.assign(at, incident, plan.assignee, sector=sector, instructions=instructions, thread=thread)
    if plan.intruder is not None:
        at += timedelta(seconds=30)
        s.report(
            plan.intruder,
            at,
            IncidentAcknowledged(incident=IncidentId(incident), eta_minutes=3),
            thread,
            sector=s.in_territory(plan.intruder.agency, point),
            subject=incident,
            refusal=ACK_BY_SUBSTITUTION,
        )
    acknowledged_at = at + s.minutes(1, 3)
    assignee = plan.assignee
    on_scene = s.respond(assignee, acknowledged_at, incident, point, thread)
    work_until = on_scene + s.minutes(*kind.on_scene_min)
    cursor = _work(s, kind, plan, on_scene, work_until)
    resolved_at = max(work_until, cursor + s.minutes(1, 3))
    free_at = s.close(
        assignee,
        resolved_at,
        incident,
        point=point,
        outcome=rng.choice(kind.outcomes),
        people_assisted=plan.people if kind.help or kind.mediation else None,
        thread=thread,
    )
    s.engage(assignee, plan.assigned_at, free_at, point)


def _work(
    s: Script, kind: IncidentKind, plan: _Plan, on_scene: datetime, until: datetime
) -> datetime:
    """What the assignee does on scene; returns when its last step happened."""
    rng, assignee, point, thread = s.rng, plan.assignee, plan.point, plan.thread
    incident = plan.incident
    cursor = on_scene
    sector = s.in_territory(assignee.agency, point)
    if kind.qualify is not None and _proposes(s, assignee.agency, "incident.qualified"):
        cursor += s.minutes(1, 3)
        s.report(
            assignee,
            cursor,
            IncidentQualified(
                incident=IncidentId(incident),
                category=kind.category,
                severity=kind.qualify,
                armed_threat=False,
                people_involved=plan.people,
            ),
            thread,
            sector=sector,
            subject=incident,
        )
    if kind.video:
        cursor = _video(s, plan, cursor, until)
    if kind.mediation is not None and assignee.agency is MED:
        mediation = s.new_id("MEDIATION")
        cursor += s.minutes(0.5, 2)
        s.report(
            assignee,
            cursor,
            MediationStarted(
                mediation=mediation,
                topic=kind.mediation,
                position=point,
                incident=IncidentId(incident),
                case_notes=rng.choice(kind.mediation_notes),
            ),
            thread,
            sector=sector,
            subject=incident,
        )
        cursor = max(until - s.minutes(1, 3), cursor + s.minutes(3, 6))
        s.report(
            assignee,
            cursor,
            MediationClosed(
                mediation=mediation,
                outcome=rng.choice(kind.outcomes),
                case_notes="Situation apaisée ; aucune suite pénale, orientation proposée.",
            ),
            thread,
            sector=sector,
            subject=incident,
        )
    return cursor


def _video(s: Script, plan: _Plan, cursor: datetime, until: datetime) -> datetime:
    """The assignee asks the city's video centre for an extract, which grants it."""
    extracts = s.charter.authorisations.video_extracts
    requester = plan.assignee
    authorisation = next(
        (
            a
            for a in extracts
            if requester.agency in a.requesters
            and plan.sector in a.sectors
            and a.window.contains(cursor)
        ),
        None,
    )
    if authorisation is None or not _proposes(s, requester.agency, "video_extract.requested"):
        return cursor
    granted_at = cursor + s.minutes(6, 10)
    granter = _video_centre(s, authorisation.granted_by, cursor, granted_at)
    if granter is None or granted_at >= until:
        return cursor
    camera = s.places.near(plan.point, plan.sector, s.rng, 25.0)
    request = s.new_id("VX")
    requested_at = cursor + s.minutes(2, 4)
    s.report(
        requester,
        requested_at,
        VideoExtractRequested(
            request=request,
            authorisation=authorisation.reference,
            camera=f"CAM-{plan.sector.upper()}-{s.rng.randint(1, 12):02d}",
            position=camera,
            window_start=plan.reported_at - timedelta(minutes=10),
            window_end=plan.reported_at + timedelta(minutes=5),
            motive="Identification des auteurs d'une rixe",
        ),
        plan.thread,
        sector=s.in_territory(requester.agency, camera),
        subject=plan.incident,
    )
    s.report(
        granter,
        granted_at,
        VideoExtractGranted(
            request=request,
            authorisation=authorisation.reference,
            position=camera,
            retention_days=10,
        ),
        plan.thread,
        sector=s.in_territory(granter.agency, camera),
        subject=plan.incident,
    )
    return granted_at


def _video_centre(s: Script, agency: Agency, start: datetime, end: datetime) -> Post | None:
    actor = s.actor(agency)
    if actor is None or Capability.VIDEO_PROTECTION not in actor.capabilities:
        return None
    if not _proposes(s, agency, "video_extract.granted"):
        return None
    posts = [p for p in s.posts_of(agency) if p.covers(start, end)]
    centres = [p for p in posts if p.period is None]  # the supervision centre does not move
    pool = centres or posts
    return pool[0] if pool else None


def _proposes(s: Script, agency: Agency, short_type: str) -> bool:
    actor = s.actor(agency)
    return actor is not None and f"fr.interforces.{short_type}" in actor.competences.events
