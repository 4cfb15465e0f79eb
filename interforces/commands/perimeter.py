"""`interforces perimeter` commands: dry-run a charter on sample proposals."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.charter import load_charter
from contracts.errors import CharterError
from services.coordinator.perimeter import compile_charter
from services.coordinator.perimeter.dry_run import decide_lines

app = typer.Typer(no_args_is_help=True, help="Decide proposals against a charter.")


@app.command()
def decide(
    charter: Annotated[Path, typer.Option(help="Charter YAML file.", exists=True, dir_okay=False)],
    fail_on_reject: Annotated[
        bool, typer.Option(help="Exit 1 when any proposal is refused (for scripted checks).")
    ] = False,
) -> None:
    """Read proposals as JSON lines on stdin; write one decision per line on stdout.

    A line is a bare CloudEvent, or {"event": …, "subject": …, "credentials_agency": …,
    "received_at": …}. A count goes to stderr. Exit 2 on an invalid charter.
    """
    try:
        compiled = compile_charter(load_charter(charter))
    except CharterError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    total = rejected = 0
    for decision in decide_lines(sys.stdin, compiled):
        total += 1
        rejected += decision["outcome"] == "rejected"
        sys.stdout.write(json.dumps(decision, ensure_ascii=False) + "\n")
    Console(stderr=True).print(
        f"{total} proposition(s) : {total - rejected} acceptée(s), {rejected} refusée(s)"
    )
    raise typer.Exit(1 if fail_on_reject and rejected else 0)
