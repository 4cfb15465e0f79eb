"""The perimeter engine: a pure, total decision function over a compiled charter.

    compiled = compile_charter(charter)
    decision = decide(proposal, compiled, situation)

`decide` never raises on a valid `Proposal`; every refusal carries stable reason codes.
"""

from services.coordinator.perimeter.compiled import CompiledActor, CompiledCharter, compile_charter
from services.coordinator.perimeter.decision import Decision, Delivery, Proposal
from services.coordinator.perimeter.engine import decide
from services.coordinator.perimeter.redaction import record_of, render_delivery
from services.coordinator.perimeter.situation import IncidentState, Situation

__all__ = [
    "CompiledActor",
    "CompiledCharter",
    "Decision",
    "Delivery",
    "IncidentState",
    "Proposal",
    "Situation",
    "compile_charter",
    "decide",
    "record_of",
    "render_delivery",
]
