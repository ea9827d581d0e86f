"""Who is calling, and may they: the staff dependencies every route puts on itself (SPEC §8).

* ``CurrentStaff`` — the ``Staff`` behind ``Authorization: Bearer TOKEN``, where TOKEN is a staff
  token (found by its hash) or a signed access token from ``POST /api/v1/session`` (verified
  with the public key, then its owner checked not disabled). Anything else is 401.
* ``require(action)`` — a dependency answering that ``Staff`` when the role table allows
  ``action``, else 403 ``FORBIDDEN``. Scope (region, organization, source) is the route's to
  check with ``domain.staff.in_scope`` once it has loaded the person or list.

``install(app)`` maps the refusals to ``{"code", "message"}`` bodies.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer

from services.enrollment.domain.staff import (
    Action,
    Forbidden,
    Staff,
    StaffError,
    TooManyAttempts,
    may,
)
from services.enrollment.entrypoints.api.deps import SessionmakerDep
from services.enrollment.entrypoints.api.errors import error
from services.enrollment.service_layer.staff import authenticate
from services.enrollment.settings import Settings
from shared import staff_tokens
from shared.staff_tokens import Unauthenticated

log = logging.getLogger(__name__)

# Declared for the OpenAPI page (its "Authorize" button logs in through /api/v1/session); the
# header itself is read by current_staff, which refuses more precisely than this scheme does.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/session", auto_error=False)


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """The key pair for signed access tokens; either half may be missing (not configured)."""

    private: Ed25519PrivateKey | None
    public: Ed25519PublicKey | None


def load_token_keys(settings: Settings) -> TokenKeys:
    """Read the configured key files; the public key defaults to the private key's half."""
    private = public = None
    try:
        if settings.staff_token_private_key_file is not None:
            private = staff_tokens.load_private_key(settings.staff_token_private_key_file)
        if settings.staff_token_public_key_file is not None:
            public = staff_tokens.load_public_key(settings.staff_token_public_key_file)
    except (OSError, ValueError) as exc:
        # Staff tokens still work; signed ones are refused (401) and logins answer 503.
        log.error("staff token keys unusable, signed tokens disabled: %s", exc)
        return TokenKeys(None, None)
    if public is None and private is not None:
        public = private.public_key()
    return TokenKeys(private, public)


def get_token_keys(request: Request) -> TokenKeys:
    """The app's keys, read from the settings' files on first use."""
    keys: TokenKeys | None = getattr(request.app.state, "staff_token_keys", None)
    if keys is None:
        keys = load_token_keys(request.app.state.settings)
        request.app.state.staff_token_keys = keys
    return keys


TokenKeysDep = Annotated[TokenKeys, Depends(get_token_keys)]


async def current_staff(
    request: Request,
    sessionmaker: SessionmakerDep,
    keys: TokenKeysDep,
    _documented: Annotated[str | None, Depends(oauth2_scheme)],
) -> Staff:
    """The staff member the request's bearer token belongs to, or 401 ``UNAUTHENTICATED``."""
    token = staff_tokens.bearer_token(request.headers.get("Authorization"))
    staff = await authenticate(sessionmaker, token, keys.public)
    request.state.staff = staff  # for the access log and the audit rows of the route
    return staff


CurrentStaff = Annotated[Staff, Depends(current_staff)]


@functools.cache
def require(action: Action) -> Callable[[Staff], Awaitable[Staff]]:
    """A dependency: the caller, when the role table lets their role do ``action``; else 403.

    Cached per action, so a route and its router asking for the same action share one check.
    """

    async def allowed(staff: CurrentStaff) -> Staff:
        if not may(staff.role, action):
            raise Forbidden(f"the {staff.role.value} role may not do {action.value}")
        return staff

    allowed.__name__ = f"require_{action.name.lower()}"
    return allowed


STATUS_BY_CODE = {"STAFF_NOT_FOUND": 404, "STAFF_EXISTS": 409}


def install(app: FastAPI) -> None:
    """Answer the access refusals as ``{"code", "message"}`` with their statuses."""

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        response = error(401, exc.code, exc.message)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return error(403, exc.code, exc.message)

    @app.exception_handler(TooManyAttempts)
    async def _too_many(_: Request, exc: TooManyAttempts) -> JSONResponse:
        response = error(429, exc.code, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(StaffError)
    async def _staff(_: Request, exc: StaffError) -> JSONResponse:
        return error(STATUS_BY_CODE.get(exc.code, 422), exc.code, exc.message)
