"""A Fête de la musique evening in Lyon's Presqu'île, played on a simulated clock."""

from simulations.festival.canary import Canary
from simulations.festival.clock import SimClock
from simulations.festival.errors import EveningError, FestivalError
from simulations.festival.evening import EVENING_HOURS, build_evening
from simulations.festival.model import Action, Evening, Refusal, Via
from simulations.festival.refusals import DELIBERATE

__all__ = [
    "DELIBERATE",
    "EVENING_HOURS",
    "Action",
    "Canary",
    "Evening",
    "EveningError",
    "FestivalError",
    "Refusal",
    "SimClock",
    "Via",
    "build_evening",
]
