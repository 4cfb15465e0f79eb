"""A stand-in service: `python -m tests.fixtures_stack.standin`, named by `IFC_SERVICE_NAME`.

It reports ready (a health answer over NATS, or a `<dir>/<name>.<pid>.ready` file), records
what happens to it as lines `<ns> <name> <pid> <event>` in `<dir>/events.log`, and behaves
as `STANDIN_BEHAVIOUR` (a JSON object keyed by service name) says:

- `crashes`: exit with code 3 shortly after each of the first N starts;
- `never_ready`: never report ready;
- `ignore_sigterm`: SIGTERM does nothing (the supervisor has to SIGKILL it);
- `drain_s`: seconds between SIGTERM and exit.

It also writes the environment it was given to `<dir>/<name>.env.json`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from nats.aio.msg import Msg

from services.runtime.health import Health, health_subject

CRASH_EXIT_CODE = 3


def _record(directory: Path, name: str, event: str) -> None:
    line = f"{time.time_ns()} {name} {os.getpid()} {event}\n"
    fd = os.open(directory / "events.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _starts(directory: Path, name: str) -> int:
    lines = (directory / "events.log").read_text().splitlines()
    return sum(1 for line in lines if line.split()[1:2] == [name] and line.endswith(" started"))


async def main() -> None:
    name = os.environ["IFC_SERVICE_NAME"]
    directory = Path(os.environ["STANDIN_DIR"])
    behaviour: dict[str, Any] = json.loads(os.environ.get("STANDIN_BEHAVIOUR", "{}")).get(name, {})
    (directory / f"{name}.env.json").write_text(json.dumps(dict(os.environ)))
    _record(directory, name, "started")
    started_at = datetime.now(UTC)
    since = time.monotonic()

    terminated = asyncio.Event()
    if behaviour.get("ignore_sigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminated.set)

    nc = None
    if not behaviour.get("never_ready"):
        if os.environ.get("STANDIN_PROBE") == "nats":
            nc = await nats.connect(os.environ["NATS_URL"].split(","))

            async def answer(msg: Msg) -> None:
                health = Health(
                    service=name,
                    pid=os.getpid(),
                    started_at=started_at,
                    uptime_s=round(time.monotonic() - since, 3),
                    details={"standin": True},
                )
                await msg.respond(health.model_dump_json().encode())

            await nc.subscribe(health_subject(name), cb=answer)
            await nc.flush()
        else:
            (directory / f"{name}.{os.getpid()}.ready").touch()
        _record(directory, name, "ready")
        print(f"{name} ready", flush=True)

    if _starts(directory, name) <= int(behaviour.get("crashes", 0)):
        await asyncio.sleep(0.05)
        _record(directory, name, "crash")
        os._exit(CRASH_EXIT_CODE)

    await terminated.wait()
    _record(directory, name, "term")
    await asyncio.sleep(float(behaviour.get("drain_s", 0.0)))
    if nc is not None:
        await nc.close()
    _record(directory, name, "exit")


if __name__ == "__main__":
    asyncio.run(main())
