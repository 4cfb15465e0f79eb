"""The operation charter: who may do what, where, when, with which means, and see what."""

from contracts.charter.loader import load_charter, parse_charter
from contracts.charter.model import (
    Actor,
    Authorisations,
    Charter,
    Coarsening,
    DistributionRule,
    DroneAuthorisation,
    OperationHeader,
    Sector,
    TimeWindow,
    Unit,
    VideoAnalyticsAuthorisation,
    VideoExtractAuthorisation,
)

__all__ = [
    "Actor",
    "Authorisations",
    "Charter",
    "Coarsening",
    "DistributionRule",
    "DroneAuthorisation",
    "OperationHeader",
    "Sector",
    "TimeWindow",
    "Unit",
    "VideoAnalyticsAuthorisation",
    "VideoExtractAuthorisation",
    "load_charter",
    "parse_charter",
]
