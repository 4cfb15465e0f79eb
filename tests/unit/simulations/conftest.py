"""Fixtures of the simulation tests: the festival charter and one evening written on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.charter import Charter, load_charter
from services.coordinator.perimeter import CompiledCharter, compile_charter
from simulations.festival import Evening, build_evening

FESTIVAL = (
    Path(__file__).resolve().parents[3] / "infra" / "charters" / "fete-musique-presquile.yaml"
)
SEED = 2026


@pytest.fixture(scope="module")
def festival() -> Charter:
    """The Fête de la musique charter."""
    return load_charter(FESTIVAL)


@pytest.fixture(scope="module")
def compiled(festival: Charter) -> CompiledCharter:
    """The festival charter, compiled for the perimeter engine."""
    return compile_charter(festival)


@pytest.fixture(scope="module")
def evening(festival: Charter) -> Evening:
    """The evening of seed 2026 (tests only read it)."""
    return build_evening(festival, SEED)
