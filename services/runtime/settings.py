"""Settings every service reads; each service's own settings extend these.

Only settings modules read the environment. `NATS_URL` and `DATABASE_URL` keep their
conventional names; everything else is prefixed `IFC_`.

A process connects to NATS as its own broker user when `IFC_NATS_USER` is set: its password
comes from `IFC_NATS_PASSWORD`, else from `IFC_NATS_PASSWORD_FILE`, else from
`<secrets dir>/nats/<user>.password`. Without a user it connects without credentials (a
broker without perimeters, as in the tests).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.charter.loader import charter_files
from infra.nats.secrets import password_path, read_password_file
from infra.nats.users import NatsLogin


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
    nats_user: str | None = Field(
        default=None, description="Broker user to connect as; unset: no credentials."
    )
    nats_password: SecretStr | None = Field(
        default=None, description="Its password; unset: read from the password file."
    )
    nats_password_file: Path | None = Field(
        default=None,
        description="File holding the password; unset: `<secrets_dir>/nats/<user>.password`.",
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

    def nats_login(self) -> NatsLogin | None:
        """The broker credentials to connect with, or None to connect without (raises
        `NatsSecretError` when the user's password cannot be read)."""
        if self.nats_user is None:
            return None
        if self.nats_password is not None:
            return NatsLogin(self.nats_user, self.nats_password.get_secret_value())
        path = self.nats_password_file or password_path(self.secrets_dir, self.nats_user)
        return NatsLogin(self.nats_user, read_password_file(path))

    def charter_files(self) -> list[Path]:
        """Every charter file named by `charters` (directories expanded, sorted)."""
        return charter_files(self.charters)
