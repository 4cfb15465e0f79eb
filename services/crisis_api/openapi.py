"""The API's OpenAPI document, generated from the routes and checked in beside them
(`services/crisis_api/openapi.json`); a test fails when the two drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from services.crisis_api.app import create_app
from services.crisis_api.auth import TokenRegistry
from services.crisis_api.settings import CrisisApiSettings

CHECKED_IN: Final = Path(__file__).parent / "openapi.json"


def openapi_document() -> dict[str, Any]:
    """The document as the routes describe it (no server needed)."""
    app = create_app(CrisisApiSettings(charters=()), TokenRegistry(()))
    return app.openapi()


def render() -> str:
    """The document as it is checked in: sorted keys, two-space indent, final newline."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path = CHECKED_IN) -> bool:
    """Write the document; whether it changed."""
    text = render()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
