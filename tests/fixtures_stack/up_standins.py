"""`interforces up` with stand-in services: `python -m tests.fixtures_stack.up_standins
DATA_DIR CHARTERS SERVICE...` (embedded servers, health over NATS)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rich.console import Console

from interforces.commands.up import serve
from interforces.stack.stack import StackSettings

from .probes import standins


def main(argv: list[str]) -> int:
    data_dir, charters, *names = argv
    settings = StackSettings(
        data_dir=Path(data_dir),
        charters=(Path(charters),),
        nats_url=None,
        database_url=None,
        stop_grace_s=5.0,
    )
    return asyncio.run(serve(settings, Console(), services=standins(*names)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
