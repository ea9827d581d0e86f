"""``POST /api/v1/session``: log in with a name and password, get a short-lived access token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from services.enrollment.entrypoints.api.auth import TokenKeysDep
from services.enrollment.entrypoints.api.deps import SessionmakerDep
from services.enrollment.entrypoints.api.errors import error
from services.enrollment.entrypoints.api.schemas import ErrorPublic
from services.enrollment.service_layer.staff import login

router = APIRouter(prefix="/api/v1", tags=["staff"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "Wrong name or password, or a disabled account."},
    429: {"model": ErrorPublic, "description": "Too many failed logins for this name."},
    503: {"model": ErrorPublic, "description": "This service has no signing key configured."},
}


class SessionPublic(BaseModel):
    """An OAuth2 bearer token: send it as ``Authorization: Bearer …`` until it expires."""

    access_token: str = Field(description="A signed token (Ed25519), valid at most 15 minutes.")
    token_type: str = Field("bearer", description="Always bearer.")
    expires_in: int = Field(description="Seconds until the token expires.")


@router.post(
    "/session",
    response_model=SessionPublic,
    responses=ERRORS,
    summary="Log in (OAuth2 password form): a short-lived access token",
)
async def create_session(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    sessionmaker: SessionmakerDep,
    keys: TokenKeysDep,
) -> Any:
    if keys.private is None:
        return error(503, "LOGIN_UNAVAILABLE", "no signing key: set STAFF_TOKEN_PRIVATE_KEY_FILE")
    issued = await login(sessionmaker, form.username, form.password, keys.private)
    return SessionPublic(access_token=issued.token, expires_in=issued.expires_in)
