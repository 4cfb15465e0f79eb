"""The crisis-cell API's settings (environment prefix `IFC_API_`, plus the shared ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import RuntimeSettings


class CrisisApiSettings(RuntimeSettings):
    """Where the API listens, who may call it, how much one answer may hold."""

    api_host: str = Field(default="127.0.0.1", description="Address to listen on.")
    api_port: int = Field(default=8470, ge=0, le=65535, description="Port (0: any free one).")
    api_tokens_file: Path | None = Field(
        default=None,
        description="Callers' tokens and roles (JSON); unset: `<secrets_dir>/api-tokens.json`.",
    )
    api_page_max: int = Field(default=500, ge=1, le=5000, description="Largest page served.")
    api_max_replays: int = Field(default=8, ge=1, le=64, description="Replays running at once.")

    def tokens_path(self) -> Path:
        """The tokens file the API reads."""
        return self.api_tokens_file or self.secrets_dir / "api-tokens.json"
