"""Fixtures of the perimeter tests: the doctrine charter, live and its exercise twin."""

from __future__ import annotations

import pytest

from contracts.charter import Charter
from services.coordinator.perimeter import CompiledCharter

from .builders import exercise, exercise_charter, live, live_charter


@pytest.fixture
def live_compiled() -> CompiledCharter:
    """The doctrine charter, compiled (live)."""
    return live()


@pytest.fixture
def exercise_compiled() -> CompiledCharter:
    """Its exercise twin, compiled."""
    return exercise()


@pytest.fixture
def doctrine_charter() -> Charter:
    """The doctrine charter as loaded from tests/data/charters/doctrine.yaml."""
    return live_charter()


@pytest.fixture
def exercise_twin() -> Charter:
    """The exercise twin of the doctrine charter."""
    return exercise_charter()
