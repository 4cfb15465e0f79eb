"""The after-action report of an exercise run: an HTML page with its figures, and Markdown
and CSV exports that a player without an account can read.

Every document says EXERCICE where nobody can miss it: a banner at the top and the bottom
of the page and of the Markdown, the figures' titles, and a first column `exercice` on
every CSV row. Nothing personal goes in: the timeline export names units, types, sectors
and incident ids, never a payload's free text, an identity or a case note.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, PackageLoader, select_autoescape

from contracts.envelope import Envelope
from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.events.violations import PerimeterViolated
from contracts.routing import EXERCISE_MARK
from contracts.vocabulary import AGENCY_LABELS, Agency
from services.timeline.domain import TimelineRecord
from simulations.exercise.evaluation import Evaluation, delay_samples
from simulations.exercise.plots import delays, swimlane

#: The banner of every exercise document.
BANNER: Final = " — ".join([EXERCISE_MARK] * 3)
STATUS_LABELS: Final = {"met": "à temps", "late": "en retard", "missed": "manquée"}
ATTEMPT_LABELS: Final = {
    "refused": "refusée comme prévu",
    "refused_otherwise": "refusée pour d'autres motifs",
    "accepted": "ACCEPTÉE à tort",
    "absent": "absente du journal",
}
_LABELS: Final = {a.value: label for a, label in AGENCY_LABELS.items()}
_TEMPLATES = Environment(
    loader=PackageLoader("simulations.exercise", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where the report was written."""

    directory: Path
    html: Path
    markdown: Path
    csv: tuple[Path, ...]
    images: tuple[Path, ...]


def _hm(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S") if at is not None else "—"


def write_report(
    evaluation: Evaluation, records: Sequence[TimelineRecord], directory: Path
) -> ReportFiles:
    """Write the report of a run into `directory` (created); return its files."""
    directory.mkdir(parents=True, exist_ok=True)
    accepted = sorted(
        (r.envelope for r in records if not isinstance(r.envelope.data, PerimeterViolated)),
        key=lambda e: e.time,
    )
    images = (
        swimlane(evaluation, accepted, directory / "swimlane.png"),
        delays(evaluation, delay_samples(accepted), directory / "delays.png"),
    )
    exports = _write_csv(evaluation, records, directory)
    markdown = directory / "report.md"
    markdown.write_text(_markdown(evaluation, images, exports), encoding="utf-8")
    html = directory / "report.html"
    html.write_text(
        _TEMPLATES.get_template("report.html.j2").render(
            e=evaluation,
            s=evaluation.summary(),
            mark=EXERCISE_MARK,
            banner=BANNER,
            labels=_LABELS,
            status_labels=STATUS_LABELS,
            attempt_labels=ATTEMPT_LABELS,
            hm=_hm,
            images={"swimlane": images[0].name, "delays": images[1].name},
            exports=[p.name for p in (markdown, *exports)],
        ),
        encoding="utf-8",
    )
    return ReportFiles(directory, html, markdown, exports, images)


# --- CSV -----------------------------------------------------------------------------------


def _write_csv(
    evaluation: Evaluation, records: Sequence[TimelineRecord], directory: Path
) -> tuple[Path, ...]:
    tables: dict[str, tuple[list[str], Iterable[list[Any]]]] = {
        "expected.csv": (
            [
                "id",
                "objectif",
                "service",
                "action",
                "après",
                "déclenché",
                "attendu_avant",
                "fait_à",
                "délai_min",
                "délai_attendu_min",
                "résultat",
            ],
            (
                [
                    x.id,
                    x.objective or "",
                    x.agency,
                    x.event,
                    x.after,
                    _iso(x.trigger_at),
                    _iso(x.deadline),
                    _iso(x.done_at),
                    x.delay_min if x.delay_min is not None else "",
                    x.within_min,
                    x.status.value,
                ]
                for x in evaluation.expected
            ),
        ),
        "objectives.csv": (
            ["objectif", "intitulé", "poids", "éléments", "score"],
            (
                [o.id, o.title, o.weight, o.items, o.score if o.score is not None else ""]
                for o in evaluation.objectives
            ),
        ),
        "agencies.csv": (
            ["service", "mesure", "n", "p50_min", "p90_min", "max_min"],
            (
                [a.agency, kind, d.n, _blank(d.p50), _blank(d.p90), _blank(d.max)]
                for a in evaluation.agencies
                for kind, d in (("affectation", a.assign), ("acquittement", a.acknowledge))
            ),
        ),
        "violations.csv": (
            ["à", "proposé_par", "unité", "type", "motifs", "prévue", "inject"],
            (
                [
                    _iso(v.at),
                    v.agency or "",
                    v.unit or "",
                    v.proposal_type,
                    " ".join(v.codes),
                    "oui" if v.planned else "non",
                    v.step or "",
                ]
                for v in evaluation.violations
            ),
        ),
        "timeline.csv": (
            ["à", "service", "unité", "type", "objet", "secteur", "issue", "motifs"],
            (_timeline_row(r.envelope) for r in records),
        ),
    }
    written = []
    for name, (header, rows) in tables.items():
        path = directory / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["exercice", *header])
            writer.writerows([EXERCISE_MARK, *row] for row in rows)
        written.append(path)
    return tuple(written)


def _timeline_row(envelope: Envelope) -> list[Any]:
    data = envelope.data
    if isinstance(data, PerimeterViolated):
        return [
            "",
            envelope.agency.value,
            envelope.unit or "",
            data.proposal_type.removeprefix(EVENT_TYPE_PREFIX),
            "",
            envelope.sector or "",
            "refusé",
            " ".join(sorted(r.code.value for r in data.reasons)),
        ]
    return [
        envelope.time.isoformat(),
        envelope.agency.value,
        envelope.unit or "",
        envelope.type.removeprefix(EVENT_TYPE_PREFIX),
        envelope.subject or "",
        envelope.sector or "",
        "accepté",
        "",
    ]


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at is not None else ""


def _blank(value: float | None) -> float | str:
    return "" if value is None else value


# --- Markdown ------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _label(agency: str | None) -> str:
    return AGENCY_LABELS[Agency(agency)] if agency else "—"


def _markdown(evaluation: Evaluation, images: Sequence[Path], exports: Sequence[Path]) -> str:
    e, s = evaluation, evaluation.summary()
    score = f"{e.score:.1f} / 100" if e.score is not None else "—"
    out = [
        f"> **{BANNER}**",
        "",
        f"# Rapport après action — {e.title}",
        "",
        f"Scénario `{e.scenario}` · opération d'exercice `{e.operation}` · graine {e.seed} · "
        f"du {e.start.strftime('%d/%m/%Y %H:%M')} au {e.end.strftime('%H:%M')} · "
        f"{e.records} enregistrements au journal.",
        "",
        "## Synthèse",
        "",
        *_table(
            ["attendues", "à temps", "en retard", "manquées", "refus", "dont prévus", "score"],
            [
                [
                    s["expected"],
                    s["met"],
                    s["late"],
                    s["missed"],
                    s["violations"],
                    s["violations_planned"],
                    score,
                ]
            ],
        ),
        "## Objectifs",
        "",
        *_table(
            ["objectif", "intitulé", "poids", "éléments", "score"],
            [
                [o.id, o.title, o.weight, o.items, o.score if o.score is not None else "—"]
                for o in e.objectives
            ],
        ),
        "## Actions attendues",
        "",
        *_table(
            ["id", "service", "action", "après", "attendu avant", "fait à", "délai", "résultat"],
            [
                [
                    x.id,
                    _label(x.agency),
                    x.event,
                    x.after,
                    _hm(x.deadline),
                    _hm(x.done_at),
                    f"{x.delay_min if x.delay_min is not None else '—'} / {x.within_min} min",
                    STATUS_LABELS[x.status.value] + (f" ({x.note})" if x.note else ""),
                ]
                for x in e.expected
            ],
        ),
        "## Tentatives hors périmètre prévues",
        "",
        *_table(
            ["inject", "service", "action", "refus attendu", "motifs relevés", "résultat"],
            [
                [
                    a.inject,
                    _label(a.agency),
                    a.event,
                    ", ".join(a.expected_codes),
                    ", ".join(a.codes) or "—",
                    ATTEMPT_LABELS[a.outcome],
                ]
                for a in e.attempts
            ],
        ),
        "## Délais par service (minutes de scénario : n · p50 · p90 · max)",
        "",
        *_table(
            ["service", "signalement → affectation", "affectation → acquittement"],
            [
                [
                    _label(a.agency),
                    f"{a.assign.n} · {a.assign.p50} · {a.assign.p90} · {a.assign.max}",
                    f"{a.acknowledge.n} · {a.acknowledge.p50} · {a.acknowledge.p90} · "
                    f"{a.acknowledge.max}",
                ]
                for a in e.agencies
            ],
        ),
        f"## Violations de périmètre ({len(e.violations)})",
        "",
        *_table(
            ["à", "proposé par", "unité", "type", "motifs", "prévue"],
            [
                [
                    _hm(v.at),
                    _label(v.agency),
                    v.unit or "—",
                    v.proposal_type,
                    ", ".join(v.codes),
                    f"oui ({v.step})" if v.planned else "non",
                ]
                for v in e.violations
            ],
        ),
    ]
    if e.live_injects:
        out += [
            "## Injects en direct des formateurs",
            "",
            *_table(
                ["inject", "à", "destinataire", "message"],
                [[x.inject, _hm(x.at), _label(x.target), x.message] for x in e.live_injects],
            ),
        ]
    out += [
        "## Figures",
        "",
        *(f"![{EXERCISE_MARK} — {p.stem}]({p.name})" for p in images),
        "",
        "Exports CSV : " + ", ".join(f"[{p.name}]({p.name})" for p in exports) + ".",
        "",
        f"Empreinte du déroulé : `{e.digest}`.",
        "",
        f"> **{BANNER}**",
        "",
    ]
    return "\n".join(out)
