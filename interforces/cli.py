"""Entry point of the `interforces` command: one sub-command group per concern."""

from __future__ import annotations

import typer

from interforces.commands import bench, charter, demo, infra, perimeter, schemas, status, up

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
app.command()(up.up)
app.command()(status.status)
app.command()(demo.demo)
