"""`interforces demo --serve`: once the evening is played, keep the system up so the crisis
cell can look back at it — the API, the situation at any instant, replays, the debrief,
the journal — until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal

from rich.console import Console

from interforces.stack.stack import Stack


def _explore(stack: Stack, operation: str) -> str:
    data = stack.data_dir
    api = stack.state.api_url
    return "\n".join(
        [
            f"[bold]Le système reste en marche[/bold] — opération {operation}",
            f"  API de la cellule de crise : {api}/docs (jetons : {stack.state.api_tokens})",
            f"  interforces timeline show --data-dir {data} --op {operation} --at 23:30 "
            '--motive "retour d\'expérience"',
            f"  interforces replay --data-dir {data} --op {operation} --from 23:00 --to 23:30 "
            "--speed 20",
            f"  interforces report debrief --data-dir {data} --op {operation} "
            '--motive "retour d\'expérience"',
            f"  interforces timeline rebuild --data-dir {data} --op {operation}",
            f"  interforces journal verify --data-dir {data}",
            "Ctrl-C arrête tout.",
        ]
    )


async def serve_until_interrupted(stack: Stack, operation: str, console: Console) -> None:
    """Print how to explore the evening, then wait for SIGINT or SIGTERM."""
    console.print(_explore(stack, operation))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
