"""Fault scenarios under load: the drivers behind `interforces chaos` and `tests/faults`.

A steady load of proposals (`load`), servers the scenarios own and break (`servers`), the
services as supervised processes killed for real (`processes`), the exact accounting of
sent, accepted, rejected, lost and duplicated (`accounting`), and the scenarios themselves
(`scenarios`).
"""

from simulations.chaos.accounting import Accounting, account
from simulations.chaos.scenarios import (
    DEFAULT_CHARTER,
    FAULTS,
    ChaosConfig,
    ChaosRow,
    Scenario,
    run_scenario,
    run_scenarios,
)
from simulations.chaos.servers import ChaosPostgres, LocalCluster

__all__ = [
    "DEFAULT_CHARTER",
    "FAULTS",
    "Accounting",
    "ChaosConfig",
    "ChaosPostgres",
    "ChaosRow",
    "LocalCluster",
    "Scenario",
    "account",
    "run_scenario",
    "run_scenarios",
]
