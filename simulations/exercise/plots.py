"""The after-action report's figures (matplotlib figures drawn
straight to PNG files, no window nor global state): a swimlane timeline per agency, and
the distribution of delays — per agency, and of each expected action against its due time.
Every figure is titled EXERCICE."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from matplotlib.figure import Figure

from contracts.envelope import Envelope
from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.routing import EXERCISE_MARK
from contracts.vocabulary import AGENCY_LABELS, Agency
from simulations.exercise.evaluation import DelaySamples, Evaluation, Status

#: How each family of events is drawn: colour, marker, size, label.
_FAMILIES: Final = (
    ("unit.", "#b0b0b0", ".", 14, "unités (positions, statuts)"),
    ("incident.reported", "#1f77b4", "o", 36, "signalement"),
    ("site_incident.", "#1f77b4", "o", 36, "signalement"),
    ("incident.assigned", "#ff7f0e", "^", 46, "affectation"),
    ("incident.acknowledged", "#2ca02c", "v", 46, "acquittement"),
    ("incident.", "#17becf", "s", 30, "suite d'incident"),
    ("exercise.", "#000000", "D", 50, "inject"),
    ("public_alert.", "#9467bd", "P", 70, "alerte publique"),
    ("", "#8c564b", "s", 30, "autre décision ou compte rendu"),
)
_STATUS_COLOURS: Final = {Status.MET: "#2ca02c", Status.LATE: "#ff7f0e", Status.MISSED: "#d62728"}


def _family(event_type: str) -> tuple[str, str, int, str]:
    short = event_type.removeprefix(EVENT_TYPE_PREFIX)
    for prefix, colour, marker, size, label in _FAMILIES:
        if short.startswith(prefix):
            return colour, marker, size, label
    raise AssertionError("the last family matches every type")


def _minutes(at: datetime, start: datetime) -> float:
    return (at - start).total_seconds() / 60


def swimlane(evaluation: Evaluation, accepted: Sequence[Envelope], path: Path) -> Path:
    """One lane per agency: what it did over scenario time, the expected actions' windows
    (trigger → due) with when they were done, and the refusals."""
    lanes = [a for a in Agency if any(e.agency is a for e in accepted)]
    lanes += [Agency(e.agency) for e in evaluation.expected if Agency(e.agency) not in lanes]
    row = {agency: index for index, agency in enumerate(lanes)}
    start = evaluation.start
    figure = Figure(figsize=(13, 1.1 * max(len(lanes), 3) + 1.6))
    axes = figure.subplots()
    seen: set[str] = set()
    for envelope in accepted:
        colour, marker, size, label = _family(envelope.type)
        axes.scatter(
            _minutes(envelope.time, start),
            row[envelope.agency],
            c=colour,
            marker=marker,
            s=size,
            zorder=3,
            label=None if label in seen else label,
        )
        seen.add(label)
    for index, result in enumerate(evaluation.expected):
        y = row[Agency(result.agency)] + 0.2 + 0.07 * (index % 3)
        colour = _STATUS_COLOURS[result.status]
        if result.trigger_at is not None and result.deadline is not None:
            axes.plot(
                [_minutes(result.trigger_at, start), _minutes(result.deadline, start)],
                [y, y],
                color=colour,
                linewidth=3,
                alpha=0.55,
                solid_capstyle="butt",
            )
        if result.done_at is not None:
            axes.scatter(_minutes(result.done_at, start), y, c=colour, marker="|", s=120)
    refused = [v for v in evaluation.violations if v.at is not None and v.agency is not None]
    for line in refused:
        if line.at is None or line.agency is None or Agency(line.agency) not in row:
            continue
        axes.scatter(
            _minutes(line.at, start),
            row[Agency(line.agency)] - 0.25,
            c="#d62728",
            marker="x",
            s=60,
            zorder=4,
            label=None if "refus" in seen else "refus du coordinateur",
        )
        seen.add("refus")
    axes.set_yticks(range(len(lanes)), [AGENCY_LABELS[a] for a in lanes])
    axes.set_ylim(-0.7, len(lanes) - 0.3)
    axes.invert_yaxis()
    axes.set_xlim(0, _minutes(evaluation.end, start))
    axes.set_xlabel(f"minutes depuis le début ({start.strftime('%d/%m %H:%M')})")
    axes.grid(axis="x", alpha=0.3)
    axes.set_title(f"{EXERCISE_MARK} — {evaluation.title}\nchronologie par service", fontsize=11)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=5, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def delays(evaluation: Evaluation, samples: DelaySamples, path: Path) -> Path:
    """Left: per agency, report → assignment and assignment → acknowledgement delays.
    Right: each expected action's delay after its trigger, against its due time."""
    figure = Figure(figsize=(13, 5.2))
    left, right = figure.subplots(1, 2)
    agencies = sorted(set(samples.assign) | set(samples.acknowledge))
    data: list[Sequence[float]] = []
    labels: list[str] = []
    for agency in agencies:
        for kind, values in (("affect.", samples.assign), ("acquit.", samples.acknowledge)):
            if values.get(agency):
                data.append(values[agency])
                labels.append(f"{AGENCY_LABELS[Agency(agency)]}\n{kind}")
    if data:
        left.boxplot(data, orientation="horizontal", tick_labels=labels, showmeans=True)
    else:
        left.text(0.5, 0.5, "aucune affectation", ha="center", va="center")
    left.set_xlabel("minutes")
    left.set_title("Délais par service", fontsize=10)
    left.grid(axis="x", alpha=0.3)
    results = list(evaluation.expected)
    for index, result in enumerate(results):
        colour = _STATUS_COLOURS[result.status]
        shown = result.delay_min if result.delay_min is not None else 0.0
        right.barh(index, shown, color=colour, alpha=0.8)
        right.plot([result.within_min, result.within_min], [index - 0.4, index + 0.4], "k-")
        if result.status is Status.MISSED:
            right.text(0.2, index, "manquée", va="center", fontsize=8, color=colour)
    right.set_yticks(range(len(results)), [r.id for r in results], fontsize=8)
    right.invert_yaxis()
    right.set_xlabel("minutes après le déclencheur (trait noir : délai attendu)")
    right.set_title("Actions attendues", fontsize=10)
    right.grid(axis="x", alpha=0.3)
    figure.suptitle(f"{EXERCISE_MARK} — {evaluation.title}", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path
