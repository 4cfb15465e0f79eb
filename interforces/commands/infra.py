"""`interforces infra` commands: what a deployment prepares before the services start."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from nats.errors import Error as NatsError
from rich.console import Console

from infra.nats.cluster import CONFIG_DIR, write_cluster_configs
from infra.streams import Profile, StreamDeclarationError
from interforces.stack.stack import declare_streams_at
from services.runtime.settings import RuntimeSettings

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _infra() -> None:
    """Infrastructure: streams, NATS cluster configuration, unit keys."""


@app.command()
def streams(
    profile: Annotated[
        Profile, typer.Option(help="single: one node, R1; cluster: three nodes, R3.")
    ] = Profile.SINGLE,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to keep retrying while NATS is not ready.")
    ] = 30.0,
) -> None:
    """Declare the JetStream streams on the NATS of `NATS_URL` (idempotent)."""
    url = RuntimeSettings().nats_url
    err = Console(stderr=True, highlight=False)
    try:
        names = asyncio.run(declare_streams_at(url, profile, wait_s=wait))
    except (StreamDeclarationError, NatsError, OSError, TimeoutError) as exc:
        err.print(f"[red]Streams not declared on {url}:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    for name in names:
        typer.echo(f"{name} ({profile.value}, {profile.replicas} replica(s))")


@app.command("nats-config")
def nats_config(
    cluster: Annotated[
        bool, typer.Option("--cluster", help="The 3-node cluster of docker-compose.yml.")
    ] = False,
    out: Annotated[
        Path, typer.Option(file_okay=False, help="Directory to write into.")
    ] = CONFIG_DIR,
) -> None:
    """Write the nats-server configurations of the deployed cluster (the embedded server
    writes its own)."""
    if not cluster:
        typer.echo("Only --cluster is written here; `interforces up` configures its own node.")
        raise typer.Exit(2)
    for path in write_cluster_configs(out):
        typer.echo(path)


@app.command("unit-keys")
def unit_keys() -> None:
    """Create the agencies' unit keys in `IFC_SECRETS_DIR` when missing."""
    from contracts.credentials import ensure_unit_keys  # noqa: PLC0415

    secrets_dir = RuntimeSettings().secrets_dir
    ensure_unit_keys(secrets_dir)
    typer.echo(f"unit keys in {secrets_dir}")
