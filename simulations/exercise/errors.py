"""Errors of the exercise toolkit: one root, scenario faults located in their files."""

from __future__ import annotations

from dataclasses import dataclass


class ExerciseError(Exception):
    """Root of every error raised by `simulations.exercise`."""


@dataclass(frozen=True, slots=True)
class ScenarioProblem:
    """One fault of a scenario: the file (the scenario, its inject table or its charter),
    the line when known, the path inside the document, and what is wrong."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.path or '<root>'}: {self.message}"


class ScenarioError(ExerciseError):
    """A scenario is invalid; `problems` lists every fault with where it is."""

    def __init__(self, source: str, problems: list[ScenarioProblem]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: invalid scenario ({len(problems)} problem(s))\n{lines}")
        self.source = source
        self.problems = problems


class ExerciseRunError(ExerciseError):
    """An exercise could not run to its end (servers, timeline not drained)."""


class ControlError(ExerciseError):
    """A control request found no running exercise, or the exercise refused it."""
