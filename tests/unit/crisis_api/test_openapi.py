"""The checked-in OpenAPI document is the one the routes generate, and it says every route
needs a bearer token."""

from __future__ import annotations

import json

from services.crisis_api import openapi


def test_the_checked_in_document_is_current() -> None:
    assert openapi.CHECKED_IN.read_text(encoding="utf-8") == openapi.render(), (
        "services/crisis_api/openapi.json drifted: run `interforces schemas write`"
    )


def test_every_route_requires_a_bearer_token() -> None:
    document = json.loads(openapi.render())
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operations = [
        (path, method, spec)
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    ]
    assert len(operations) >= 15
    for path, method, spec in operations:
        assert {"HTTPBearer": []} in spec.get("security", []), f"{method.upper()} {path}"
