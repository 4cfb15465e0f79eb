"""The eight services of Interforces, named once: the supervisor, `status` and the
docker-compose test all read this list."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.vocabulary import Agency


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service: its name and the module `python -m` runs."""

    name: str
    module: str
    needs_database: bool = False

    @property
    def command(self) -> tuple[str, ...]:
        """Arguments after the Python interpreter."""
        return ("-m", self.module)


AGENCY_SERVICES: tuple[Agency, ...] = (
    Agency.POLICE_NATIONALE,
    Agency.GENDARMERIE,
    Agency.POLICE_MUNICIPALE,
    Agency.SECURITE_PRIVEE,
    Agency.MEDIATION,
)

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("timeline", "services.timeline", needs_database=True),
    ServiceSpec("crisis-api", "services.crisis_api", needs_database=True),
    ServiceSpec("coordinator", "services.coordinator"),
    *(ServiceSpec(agency.value, f"services.{agency.value}") for agency in AGENCY_SERVICES),
)
