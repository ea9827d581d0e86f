"""``POST /api/v1/session``: log in with a name and password, get a short-lived access token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
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


class LoginForm(OAuth2PasswordRequestForm):
    """FastAPI's OAuth2 password form, its fields described for the OpenAPI page."""

    def __init__(
        self,
        *,
        username: Annotated[str, Form(description="The staff name.", max_length=200)],
        password: Annotated[
            str,
            Form(
                description="The password.",
                max_length=1000,
                json_schema_extra={"format": "password"},
            ),
        ],
        grant_type: Annotated[
            str | None, Form(pattern="^password$", description="OAuth2: 'password' or omitted.")
        ] = None,
        scope: Annotated[str, Form(description="OAuth2 scopes: unused (the role decides).")] = "",
        client_id: Annotated[str | None, Form(description="OAuth2 client: unused.")] = None,
        client_secret: Annotated[str | None, Form(description="OAuth2 client: unused.")] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


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
    form: Annotated[LoginForm, Depends()],
    sessionmaker: SessionmakerDep,
    keys: TokenKeysDep,
) -> Any:
    if keys.private is None:
        return error(503, "LOGIN_UNAVAILABLE", "no signing key: set STAFF_TOKEN_PRIVATE_KEY_FILE")
    issued = await login(sessionmaker, form.username, form.password, keys.private)
    return SessionPublic(access_token=issued.token, expires_in=issued.expires_in)
