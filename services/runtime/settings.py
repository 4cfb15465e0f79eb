"""Settings every service reads; each service's own settings extend these.

Only settings modules read the environment. `NATS_URL` and `DATABASE_URL` keep their
conventional names; everything else is prefixed `IFC_`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.charter.loader import charter_files


class RuntimeSettings(BaseSettings):
    """Where the servers are, where data, secrets and charters live, how to log and trace."""

    model_config = SettingsConfigDict(
        env_prefix="IFC_", extra="ignore", frozen=True, populate_by_name=True
    )

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias="NATS_URL",
        description="NATS server(s), comma-separated.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL URL (the timeline service needs it).",
    )
    data_dir: Path = Field(default=Path("var"), description="Where services keep local data.")
    secrets_dir: Path = Field(
        default=Path("var/secrets"), description="Where unit keys and credentials are read."
    )
    charters: tuple[Path, ...] = Field(
        default=(Path("infra/charters"),),
        description="Charter files or directories of charters (every *.yaml inside).",
    )
    log_level: str = Field(default="INFO", description="Log level.")
    log_format: str = Field(default="json", pattern=r"^(json|console)$", description="Logs.")
    trace_file: Path | None = Field(
        default=None, description="Also write finished spans to this JSON-lines file."
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector; traces are exported there when set.",
    )

    def charter_files(self) -> list[Path]:
        """Every charter file named by `charters` (directories expanded, sorted)."""
        return charter_files(self.charters)
