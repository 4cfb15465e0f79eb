"""`interforces bench` commands: measurements, not tests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from contracts.errors import CharterError
from services.runtime.logging import configure_logging
from simulations.bench.perimeter import (
    DEFAULT_BATCH,
    DEFAULT_CHARTER,
    DEFAULT_DECISIONS,
    TARGET_P50_US,
    PerimeterBench,
    run,
)
from simulations.bench.suite import BenchConfig, markdown_table
from simulations.bench.suite import run as run_suite

app = typer.Typer()


@app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    *,
    quick: Annotated[
        bool, typer.Option("--quick", help="About a minute: a tenth of the roster, one repeat.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Also write the JSON report to this file.", dir_okay=False),
    ] = None,
    repeats: Annotated[
        int | None, typer.Option(min=1, help="Rounds of the coordinator path (spread).")
    ] = None,
    profile: Annotated[
        bool | None,
        typer.Option(
            "--profile/--no-profile",
            help="Sample the coordinator with py-spy when installed (full mode: on).",
        ),
    ] = None,
) -> None:
    """Benchmarks: they print figures and targets (PASS or MISS) and exit 0 on a miss.

    Without a subcommand: the whole system at Paris-2024 scale — the coordinator path and
    the full path through the agency services (saturation, p50/p99 at 1,000, 3,000 and
    6,000 events/s), each beside the raw broker measured in the same run, replay, projection
    writes against raw COPY, and the services' memory. `--quick` takes about a minute; the
    full mode about half an hour.
    """
    if ctx.invoked_subcommand is not None:
        return
    config = BenchConfig.quick() if quick else BenchConfig.full()
    if repeats is not None:
        config = replace(config, repeats=repeats)
    if profile is not None:
        config = replace(config, profile_s=(config.profile_s or 6.0) if profile else 0.0)
    configure_logging("bench", "WARNING", "console")
    err = Console(stderr=True)
    with err.status(f"Measuring ({config.mode} mode)…"):
        report = asyncio.run(run_suite(config))
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    if as_json:
        typer.echo(text)
    else:
        _print_suite(Console(), report)


@app.command()
def perimeter(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    charter: Annotated[
        Path,
        typer.Option(
            help="Charter YAML file.",
            dir_okay=False,
            show_default="infra/charters/concert-stade.yaml",
        ),
    ] = DEFAULT_CHARTER,
    decisions: Annotated[int, typer.Option(min=1, help="Proposals decided.")] = DEFAULT_DECISIONS,
    seed: Annotated[int, typer.Option(help="Seed of the proposal generator.")] = 0,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Requests per cedarpy batch call.")
    ] = DEFAULT_BATCH,
) -> None:
    """Microseconds per decision of the perimeter engine, and of the same checks in Cedar.

    Exits 1 when Cedar and our engine disagree on any proposal (on the checks Cedar makes),
    2 when the charter cannot be read; a missed speed target is reported, not an error.
    """
    err = Console(stderr=True)
    try:
        with err.status("Generating proposals and timing both engines…"):
            result = run(charter, decisions=decisions, seed=seed, batch_size=batch_size)
    except CharterError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print(Console(), result)
    if result.agreement < 1.0:
        _print_disagreements(err, result)
        raise typer.Exit(1)


def _print(console: Console, r: PerimeterBench) -> None:
    console.print(
        f"[bold]Perimeter benchmark[/bold] — {r.charter}\n"
        f"operation {r.operation} · {r.sectors} sectors · {r.actors} actors · "
        f"{r.decisions} decisions (seed {r.seed}, {r.warmup} warm-up, GC paused while timing)"
    )
    table = Table(title="Microseconds per decision", title_justify="left")
    table.add_column("engine")
    table.add_column("p50 µs", justify="right")
    table.add_column("p99 µs", justify="right")
    table.add_column("mean µs", justify="right")
    best = r.cedar_api
    rows = (
        ("ours: decide(), every check", r.ours, True),
        (f"Cedar: is_authorized_batch ÷ {r.batch_size} ¹", r.cedar_batch, best != "is_authorized"),
        ("Cedar: is_authorized, per call ¹", r.cedar_call, best == "is_authorized"),
        ("Cedar: evaluation only ²", r.cedar_eval_only, False),
    )
    for label, timing, bold in rows:
        table.add_row(
            label,
            f"{timing.p50_us:.2f}",
            f"{timing.p99_us:.2f}",
            f"{timing.mean_us:.2f}",
            style="bold" if bold else "dim",
        )
    console.print(table)
    console.print(
        "¹ from the same proposals: request built (territory by shapely, as the engine), then "
        "cedarpy with pre-parsed PolicySet and Entities; batch: per decision = batch time / "
        "batch size, p99 over batches\n"
        "² is_authorized alone, requests built beforehand: a lower bound for Cedar",
        style="dim",
        highlight=False,
    )

    targets = Table(title="Targets", title_justify="left")
    targets.add_column("target")
    targets.add_column("measured", justify="right")
    targets.add_column("")
    targets.add_row(
        f"p50 ≤ {TARGET_P50_US:g} µs", f"{r.ours.p50_us:.2f} µs", _verdict(r.p50_target_met)
    )
    targets.add_row(
        f"faster than cedarpy ({'per call' if best == 'is_authorized' else 'batch'}, p50)",
        f"{r.ours.p50_us:.2f} vs {r.cedar.p50_us:.2f} µs (×{r.cedar.p50_us / r.ours.p50_us:.2f})",
        _verdict(r.faster_than_cedar),
    )
    console.print(targets)

    agreement = "[green]" if r.agreement == 1.0 else "[bold red]"
    console.print(
        f"agreement {agreement}{r.agreement:.2%}[/] with Cedar on identity, competence, "
        "territory, time and capability\n"
        f"accepted {r.accepted / r.decisions:.2%} (ours, every check) · "
        f"allowed {r.cedar_allowed / r.decisions:.2%} (Cedar) · "
        f"outcomes as generated {r.expected / r.decisions:.2%}\n"
        "cases: " + ", ".join(f"{k} {v}" for k, v in r.cases.items()),
        highlight=False,
    )
    report = r.as_dict()
    console.print(
        f"python {report['python']} · cedarpy {report['cedarpy']} · "
        f"shapely {report['shapely']} · pydantic {report['pydantic']}",
        style="dim",
        highlight=False,
    )


def _verdict(met: bool) -> str:
    return "[bold green]PASS[/]" if met else "[bold yellow]MISS[/]"


def _print_disagreements(console: Console, r: PerimeterBench) -> None:
    console.print(
        f"[bold red]Cedar and the engine disagree on {r.decisions - r.agreeing} of "
        f"{r.decisions} proposals[/] (first ones below; verdicts: call, batch, evaluation only)"
    )
    table = Table()
    for column in ("#", "case", "type", "agency", "engine codes", "cedar allowed"):
        table.add_column(column)
    for d in r.disagreements:
        table.add_row(
            str(d.index),
            d.kind,
            d.type,
            d.agency,
            ", ".join(d.ours) or "—",
            ", ".join(str(v) for v in d.cedar_allowed),
        )
    console.print(table)


def _print_suite(console: Console, report: dict[str, Any]) -> None:
    console.print(markdown_table(report), highlight=False)
    for key, target in report["targets"].items():
        verdict = _verdict(bool(target["met"]))
        console.print(f"{verdict} {target['target']}: {target['measured']} ({key})")
