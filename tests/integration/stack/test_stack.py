"""The stack on real servers: embedded nats-server and PostgreSQL, stand-in services, the
`status` command, and nothing left running afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures_stack.probes import first, standins
from typer.testing import CliRunner

from contracts import subjects
from contracts.credentials import unit_key_path
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from interforces.cli import app
from interforces.stack.embedded import EmbeddedNats
from interforces.stack.stack import Stack, StackSettings, read_state
from interforces.stack.supervisor import ServiceState

from .conftest import CHARTERS, alive, eventually, mentioning

pytestmark = pytest.mark.integration

#: The project's streams (the declaration may add buckets of its own).
PROJECT_STREAMS = [subjects.stream_name(mode, role) for mode in Mode for role in StreamRole]


async def _status(data_dir: Path) -> tuple[int, dict[str, Any]]:
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["status", "--json", "--data-dir", str(data_dir)]
    )
    return result.exit_code, json.loads(result.stdout)


async def test_embedded_stack_runs_the_services_reports_healthy_and_leaves_nothing(
    tmp_path: Path, standin_env: dict[str, str]
) -> None:
    # given no configured servers and three stand-in services
    data_dir = tmp_path / "var"
    settings = StackSettings(
        data_dir=data_dir, charters=(CHARTERS,), nats_url=None, database_url=None
    )
    stack = Stack(
        settings, services=standins("timeline", "coordinator", "alpha"), base_env=standin_env
    )
    # when the stack starts
    try:
        state = await stack.start()
        # then both servers are embedded, the streams declared, the unit keys created
        assert state.nats.embedded
        assert state.postgres.embedded
        assert set(PROJECT_STREAMS) <= set(state.streams)
        assert unit_key_path(stack.secrets_dir, Agency.POLICE_NATIONALE).exists()
        assert read_state(data_dir) == state
        assert all(s.state is ServiceState.READY for s in state.services)
        # and each service got the resolved environment
        env = json.loads((tmp_path / "alpha.env.json").read_text())
        assert env["NATS_URL"] == stack.nats_url
        assert env["DATABASE_URL"] == stack.database_url
        assert env["IFC_DATA_DIR"] == str(data_dir)
        assert env["IFC_SECRETS_DIR"] == str(data_dir / "secrets")
        assert json.loads(env["IFC_CHARTERS"]) == [str(CHARTERS)]
        assert env["IFC_LOG_FORMAT"] == "json"
        # and `status --json` finds every part up, with the services' own pids
        code, report = await _status(data_dir)
        assert code == 0, report
        parts = {part["name"]: part for part in report["parts"]}
        assert set(parts) == {"nats-server", "postgresql", "timeline", "coordinator", "alpha"}
        assert all(part["up"] for part in parts.values())
        assert {name: parts[name]["pid"] for name in ("timeline", "coordinator", "alpha")} == {
            s.name: s.pid for s in state.services
        }
        pids = [state.nats.pid, state.postgres.pid, *(s.pid for s in state.services)]
        assert len(alive(pids)) == 5
    finally:
        # when it stops
        await stack.stop()
    # then no process of it is left, and status says so
    await eventually(lambda: not alive(pids) and not mentioning(data_dir))
    code, report = await _status(data_dir)
    assert code == 1
    assert report["stopped_at"] is not None
    assert not any(part["up"] for part in report["parts"])


async def test_configured_servers_are_used_and_left_running(
    tmp_path: Path, nats_server: EmbeddedNats, postgres_url: str
) -> None:
    # given a NATS and a PostgreSQL given by URL
    settings = StackSettings(
        data_dir=tmp_path / "var",
        charters=(CHARTERS,),
        nats_url=nats_server.url,
        database_url=postgres_url,
    )
    # when a stack without services starts and stops on them
    async with Stack(settings, services=()) as stack:
        state = stack.state
        code, report = await _status(tmp_path / "var")
    # then it used them, declared the streams there, reported them up, and left them running
    assert not state.nats.embedded
    assert not state.postgres.embedded
    assert state.nats.url == nats_server.url
    assert set(PROJECT_STREAMS) <= set(state.streams)
    assert code == 0, report
    assert nats_server.healthy()
    assert not (tmp_path / "var" / "nats").exists()


def test_ctrl_c_on_up_stops_everything_and_exits_0(tmp_path: Path) -> None:
    # given `interforces up` running two stand-in services on embedded servers, in a
    # process group of its own as in a terminal
    data_dir = tmp_path / "var"
    env = {**os.environ, "STANDIN_DIR": str(tmp_path), "STANDIN_PROBE": "nats"}
    env.pop("NATS_URL", None)
    env.pop("DATABASE_URL", None)
    launcher = subprocess.Popen(  # noqa: S603 (this interpreter, a test module)
        [
            sys.executable,
            "-m",
            "tests.fixtures_stack.up_standins",
            str(data_dir),
            str(CHARTERS),
            "timeline",
            "alpha",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        asyncio.run(eventually(lambda: _all_ready(data_dir), timeout_s=60))
        state = read_state(data_dir)
        assert state is not None
        pids = [state.nats.pid, state.postgres.pid, *(s.pid for s in state.services)]
        # when Ctrl-C sends SIGINT to its process group
        os.killpg(launcher.pid, signal.SIGINT)
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    # then it exits 0 after stopping the services (which the terminal's SIGINT did not
    # reach) and the servers, and nothing of the stack is left
    assert launcher.returncode == 0, output.decode()
    assert b"Stopped." in output
    assert first(tmp_path, "alpha", "exit").ns < first(tmp_path, "timeline", "term").ns
    asyncio.run(eventually(lambda: not alive(pids) and not mentioning(data_dir)))
    stopped = read_state(data_dir)
    assert stopped is not None
    assert stopped.stopped_at is not None


def _all_ready(data_dir: Path) -> bool:
    state = read_state(data_dir)
    return (
        state is not None
        and bool(state.services)
        and all(s.state is ServiceState.READY for s in state.services)
    )
