"""`interforces infra` commands: what a deployment prepares before the services start."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from nats.errors import Error as NatsError
from rich.console import Console

from contracts.charter import load_charter
from contracts.errors import CharterError
from infra.nats.accounts import hashed_passwords, render, write_private
from infra.nats.cluster import CONFIG_DIR, write_cluster_configs
from infra.nats.perimeters import ModeSelection, PerimeterError, build_perimeters
from infra.nats.secrets import NatsSecretError, password_path
from infra.streams import Profile, StreamDeclarationError
from interforces.stack.stack import declare_streams_at
from services.runtime.settings import RuntimeSettings

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _infra() -> None:
    """Infrastructure: streams, NATS configuration (cluster, perimeters), unit keys."""


@app.command()
def streams(
    profile: Annotated[
        Profile, typer.Option(help="single: one node, R1; cluster: three nodes, R3.")
    ] = Profile.SINGLE,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to keep retrying while NATS is not ready.")
    ] = 30.0,
) -> None:
    """Declare the JetStream streams on the NATS of `NATS_URL` (idempotent), as
    `IFC_NATS_USER` (the operator) when the broker enforces perimeters."""
    settings = RuntimeSettings()
    url = settings.nats_url
    err = Console(stderr=True, highlight=False)
    try:
        login = settings.nats_login()
        names = asyncio.run(declare_streams_at(url, profile, wait_s=wait, login=login))
    except (StreamDeclarationError, NatsError, NatsSecretError, OSError, TimeoutError) as exc:
        err.print(f"[red]Streams not declared on {url}:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    for name in names:
        typer.echo(f"{name} ({profile.value}, {profile.replicas} replica(s))")


@app.command("nats-config")
def nats_config(
    cluster: Annotated[
        bool, typer.Option("--cluster", help="The 3-node cluster of docker-compose.yml.")
    ] = False,
    charter: Annotated[
        list[Path] | None,
        typer.Option(
            "--charter",
            exists=True,
            dir_okay=False,
            help="A charter whose operation the broker serves (repeatable).",
        ),
    ] = None,
    secrets_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            help="Where the users' passwords are read or created (default: IFC_SECRETS_DIR).",
        ),
    ] = None,
    mode: Annotated[
        ModeSelection, typer.Option(help="Modes served: their streams, users and subjects.")
    ] = ModeSelection.BOTH,
    out: Annotated[
        Path | None,
        typer.Option(
            help="--cluster: the directory to write into (default infra/nats); "
            "--charter: the file to write (default: standard output)."
        ),
    ] = None,
) -> None:
    """Write nats-server configuration: the deployed cluster's nodes (`--cluster`), or the
    broker perimeters of charters (`--charter`): accounts, users, permissions, hashed
    passwords."""
    err = Console(stderr=True, highlight=False)
    if cluster == bool(charter):
        err.print("Choose one: --cluster (the nodes) or --charter FILE (the perimeters).")
        raise typer.Exit(2)
    if cluster:
        for path in write_cluster_configs(out or CONFIG_DIR):
            typer.echo(path)
        return
    secrets = secrets_dir or RuntimeSettings().secrets_dir
    try:
        charters = [load_charter(path) for path in charter or ()]
        perimeters = build_perimeters(charters, mode.modes)
        text = render(perimeters, hashed_passwords(perimeters, secrets))
    except (CharterError, PerimeterError, NatsSecretError) as exc:
        err.print(f"[red]No configuration written:[/red] {exc}")
        raise typer.Exit(1) from exc
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_private(out, text)
        typer.echo(out)
    skipped = [c.operation.id for c in charters if c.operation.mode not in mode.modes]
    if skipped:
        err.print(f"Left out (mode not served): {', '.join(skipped)}")
    err.print(
        f"{len(perimeters.users)} users in {len(perimeters.accounts)} accounts; "
        f"passwords in {password_path(secrets, '<user>')}"
    )


@app.command("unit-keys")
def unit_keys() -> None:
    """Create the agencies' unit keys in `IFC_SECRETS_DIR` when missing."""
    from contracts.credentials import ensure_unit_keys  # noqa: PLC0415

    secrets_dir = RuntimeSettings().secrets_dir
    ensure_unit_keys(secrets_dir)
    typer.echo(f"unit keys in {secrets_dir}")
