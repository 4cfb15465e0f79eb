"""Who may call what: authentication from the bearer token, role checks, stated motives,
and what each request leaves for the consultation journal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contracts.vocabulary import Mode
from services.crisis_api.auth import Principal, Role, TokenRegistry

#: Header carrying the caller's stated motive (percent-encoded UTF-8).
MOTIVE_HEADER = "X-Motive"
_MOTIVE_MAX = 500

_bearer = HTTPBearer(auto_error=False, description="A token from the API's tokens file.")


@dataclass(slots=True)
class Consultation:
    """What one request consulted, filled in as it is served, journaled when it ends."""

    principal: Principal | None = None
    motive: str | None = None
    mode: Mode | None = None
    operation: str | None = None
    result_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def consultation(request: Request) -> Consultation:
    """The request's consultation record (created on first use)."""
    found = getattr(request.state, "consultation", None)
    if not isinstance(found, Consultation):
        found = Consultation()
        request.state.consultation = found
    return found


def _registry(request: Request) -> TokenRegistry:
    registry = request.app.state.registry
    if not isinstance(registry, TokenRegistry):
        raise TypeError("the API was built without a token registry")
    return registry


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, or 401."""
    principal = _registry(request).authenticate(credentials.credentials) if credentials else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    consultation(request).principal = principal
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


def motive(request: Request) -> str:
    """The stated motive of a query that may return personal data, or 400."""
    raw = unquote(request.headers.get(MOTIVE_HEADER, ""))
    if any(not c.isprintable() and not c.isspace() for c in raw) or "\x00" in raw:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail="motive_invalid: control characters"
        )
    text = " ".join(raw.split())
    if not text:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail=f"motive_required: state why in the {MOTIVE_HEADER} header",
        )
    if len(text) > _MOTIVE_MAX:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail=f"motive_too_long: at most {_MOTIVE_MAX} chars"
        )
    consultation(request).motive = text
    return text


Motive = Annotated[str, Depends(motive)]


def require(principal: Principal, *roles: Role) -> None:
    """403 unless the caller holds one of `roles`."""
    if principal.role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {principal.role.value} may not do this "
            f"(allowed: {', '.join(r.value for r in roles)})",
        )


def require_mode(request: Request, principal: Principal, mode: Mode, operation: str) -> None:
    """403 when the caller may not see this mode's records; notes what is consulted."""
    record = consultation(request)
    record.mode, record.operation = mode, operation
    if not principal.sees_mode(mode):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {principal.role.value} may not read {mode.value} operations",
        )
