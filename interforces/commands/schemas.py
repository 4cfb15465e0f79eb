"""`interforces schemas` commands: write the JSON Schemas of the contracts and the API's
OpenAPI document, or check them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contracts.schema_export import DEFAULT_DIRECTORY, diff, render_all, write_all
from services.crisis_api import openapi

app = typer.Typer(no_args_is_help=True)

Directory = Annotated[
    Path,
    typer.Option(
        "--dir",
        help="Directory of the checked-in schemas (default: contracts/schemas of the package).",
        file_okay=False,
    ),
]


@app.command()
def write(directory: Directory = DEFAULT_DIRECTORY) -> None:
    """Render every schema (envelope, events, charter) into the directory."""
    changes = write_all(directory)
    for change in changes:
        typer.echo(change)
    typer.echo(f"{len(render_all())} schemas up to date in {directory} ({len(changes)} changed)")
    changed = openapi.write()
    typer.echo(f"{openapi.CHECKED_IN.name} {'written' if changed else 'up to date'}")


@app.command()
def check(directory: Directory = DEFAULT_DIRECTORY) -> None:
    """Exit 1, listing every drifted, missing or extra file, unless the schemas are current."""
    drift = diff(directory)
    if openapi.render() != openapi.CHECKED_IN.read_text(encoding="utf-8"):
        drift.append(f"{openapi.CHECKED_IN} drifted from the API's routes")
    if drift:
        for line in drift:
            typer.echo(line, err=True)
        typer.echo(
            f"{len(drift)} schema file(s) out of date: run `interforces schemas write`", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"{len(render_all())} schemas up to date in {directory}")
