"""Fixtures of the fault tests: the `faults` marker, a PostgreSQL of their own (one scenario
crashes it, so never the session's shared server nor `DATABASE_URL`), and the load they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulations.chaos import ChaosConfig, ChaosPostgres

#: Proposals per second, and seconds of load, of each scenario in the tests.
RATE = 200.0
SECONDS = 6.0


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (the project's configuration lists the other ones)."""
    config.addinivalue_line(
        "markers", "faults: fault scenarios under load (processes killed, servers restarted)"
    )


@pytest.fixture(scope="session")
def chaos_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosPostgres]:
    """An embedded PostgreSQL the fault scenarios may crash, shared by them."""
    server = ChaosPostgres(tmp_path_factory.mktemp("chaos-pg") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chaos_config(tmp_path: Path) -> ChaosConfig:
    """The load of one scenario, its servers' data and its services' logs under tmp."""
    return ChaosConfig(work_dir=tmp_path, rate=RATE, seconds=SECONDS)
