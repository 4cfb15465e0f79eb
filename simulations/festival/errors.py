"""Errors of the festival simulation."""

from __future__ import annotations


class FestivalError(Exception):
    """Root of every error raised by `simulations.festival`."""


class EveningError(FestivalError):
    """The charter lacks what the evening's script needs (an actor, its units)."""
