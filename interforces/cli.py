"""Entry point of the `interforces` command: one sub-command group per concern."""

from __future__ import annotations

import typer

from interforces.commands import (
    bench,
    chaos,
    charter,
    demo,
    exercise,
    infra,
    journal,
    perimeter,
    replay,
    report,
    schemas,
    situation,
    status,
    timeline,
    up,
)

app = typer.Typer(
    name="interforces",
    help="Interforces: multi-agency coordination for large events and crises.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(charter.app, name="charter")
app.add_typer(perimeter.app, name="perimeter")
app.add_typer(schemas.app, name="schemas")
app.add_typer(bench.app, name="bench")
app.add_typer(infra.app, name="infra")
app.add_typer(timeline.app, name="timeline")
timeline.app.command("show")(situation.show)
app.add_typer(journal.app, name="journal")
app.add_typer(report.app, name="report")
app.add_typer(exercise.app, name="exercise")
app.command()(replay.replay)
app.command()(chaos.chaos)
app.command()(up.up)
app.command()(status.status)
app.command()(demo.demo)
