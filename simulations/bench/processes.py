"""The services under test as the stack runs them — `python -m services.<name>` processes,
supervised, configured by the environment — with their memory and, when py-spy is
installed, a profile of one of them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import psutil

from contracts.vocabulary import Agency
from interforces.stack.services import SERVICES, ServiceSpec
from interforces.stack.supervisor import NatsHealthProbe, RestartPolicy, Supervisor

_MB: Final = 1024 * 1024


def specs(names: Sequence[str]) -> list[ServiceSpec]:
    """The services of these names, as the stack knows them."""
    known = {s.name: s for s in SERVICES}
    return [known[name] for name in names]


AGENCIES: Final = tuple(
    a.value
    for a in (
        Agency.POLICE_NATIONALE,
        Agency.GENDARMERIE,
        Agency.POLICE_MUNICIPALE,
        Agency.SECURITE_PRIVEE,
        Agency.MEDIATION,
    )
)


def service_env(
    *,
    nats_url: str,
    database_url: str | None,
    data_dir: Path,
    charter: Path,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every service of a benchmark run (live mode only, logs as JSON
    lines at INFO, as `interforces up` runs them): this process's environment without its
    own Interforces settings, which name other servers."""
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("IFC_") and k not in {"NATS_URL", "DATABASE_URL"}
        },
        "NATS_URL": nats_url,
        "IFC_DATA_DIR": str(data_dir),
        "IFC_SECRETS_DIR": str(data_dir / "secrets"),
        "IFC_CHARTERS": json.dumps([str(charter)]),
        "IFC_LOG_LEVEL": "INFO",
        "IFC_LOG_FORMAT": "json",
        "IFC_COORDINATOR_MODES": '["live"]',
        "IFC_TIMELINE_MODES": '["live"]',
        "IFC_AGENCY_MODES": '["live"]',
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


async def start_services(
    names: Sequence[str], env: Mapping[str, str], log_dir: Path, nats_url: str
) -> Supervisor:
    """Start the services and wait until each answers its health request."""
    supervisor = Supervisor(
        specs(names),
        env=env,
        log_dir=log_dir,
        probe=NatsHealthProbe(nats_url),
        policy=RestartPolicy(max_restarts=0),
        stop_grace_s=15.0,
    )
    try:
        await supervisor.start(ready_timeout_s=180.0)
    except BaseException:
        await supervisor.stop()
        raise
    return supervisor


def pids(supervisor: Supervisor) -> dict[str, int]:
    """Process id of each running service."""
    return {s.name: s.pid for s in supervisor.statuses() if s.pid is not None}


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB (0.0 when it is gone)."""
    try:
        return float(psutil.Process(pid).memory_info().rss) / _MB
    except psutil.Error:
        return 0.0


@dataclass
class RssSampler:
    """Resident memory of processes, sampled every `interval_s` until stopped."""

    processes: Mapping[str, int]
    interval_s: float = 1.0
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sample in the background."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        started = time.monotonic()
        while True:
            at = time.monotonic() - started
            for name, pid in self.processes.items():
                self.series.setdefault(name, []).append((at, rss_mb(pid)))
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


# --- profiles ------------------------------------------------------------------------------


def py_spy() -> Path | None:
    """The py-spy executable, if installed (beside this Python or on the PATH)."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return beside
    found = shutil.which("py-spy")
    return Path(found) if found else None


async def record_profile(pid: int, seconds: float, out: Path, rate: int = 100) -> Path | None:
    """Sample a process with py-spy for `seconds` into collapsed stacks; None without
    py-spy or when it could not attach."""
    executable = py_spy()
    if executable is None:
        return None
    process = await asyncio.create_subprocess_exec(
        str(executable),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await process.wait()
    return out if process.returncode == 0 and out.exists() else None


@dataclass(frozen=True, slots=True)
class SpyProfile:
    """The heaviest frames of a profile: own time (self) and time below (inclusive)."""

    samples: int
    own: tuple[tuple[str, float], ...]
    inclusive: tuple[tuple[str, float], ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: shares in percent."""
        return {
            "samples": self.samples,
            "self": [{"frame": f, "percent": round(p, 1)} for f, p in self.own],
            "inclusive": [{"frame": f, "percent": round(p, 1)} for f, p in self.inclusive],
        }


_LOCATION: Final = re.compile(r"\((/[^()]*):(\d+)\)$")
_ROOTS: Final = ("/site-packages/", "/services/", "/contracts/", "/simulations/", "/interforces/")


def short_frame(frame: str) -> str:
    """A py-spy frame with its file shortened: from the package (site-packages or the
    project's own), else its last two path parts; never the machine's absolute path."""
    found = _LOCATION.search(frame)
    if found is None:
        return frame
    path = found.group(1)
    for root in _ROOTS:
        if root in path:
            kept = path.rsplit(root, 1)[1]
            if root != "/site-packages/":
                kept = root.strip("/") + "/" + kept
            break
    else:
        kept = "/".join(path.rsplit("/", 2)[-2:])
    return f"{frame[: found.start()]}({kept}:{found.group(2)})"


#: Frames every sample goes through (interpreter, event loop): no information.
_PLUMBING: Final = ("<module>", "_run_code", "_run_module_as_main", "run (", "Runner.run")


def summarise(collapsed: str, top: int = 15, inclusive_skip: float = 90.0) -> SpyProfile:
    """The top frames of py-spy's collapsed stacks (`frame;frame;… count` lines); frames
    present in more than `inclusive_skip` percent of samples are left out of `inclusive`."""
    own: Counter[str] = Counter()
    below: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [short_frame(frame) for frame in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            below[frame] += samples
    if total == 0:
        return SpyProfile(0, (), ())

    def shares(counter: Counter[str], limit: float) -> tuple[tuple[str, float], ...]:
        ranked = [
            (frame, 100.0 * n / total)
            for frame, n in counter.most_common()
            if 100.0 * n / total <= limit and not frame.startswith(_PLUMBING)
        ]
        return tuple(ranked[:top])

    return SpyProfile(total, shares(own, 100.0), shares(below, inclusive_skip))
