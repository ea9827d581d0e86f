"""Who is calling, and may they: the staff dependencies every route puts on itself (SPEC §8).

* ``CurrentStaff`` — the ``Staff`` behind ``Authorization: Bearer TOKEN``, where TOKEN is a staff
  token (found by its hash) or a signed access token from ``POST /api/v1/session`` (verified
  with the public key, then its owner checked not disabled). Anything else is 401.
* ``require(action, …)`` — a dependency answering that ``Staff`` when the role table allows
  one of the actions, else 403 ``FORBIDDEN``. It is also the route's declared policy
  (``shared.route_policy``): ``declare_policies(app)`` writes it into the OpenAPI document and
  refuses every route that has none and is not in ``PUBLIC_ROUTES`` (default deny). Scope
  (region, organization, source) is enforced by the handlers, in their queries, through the
  ``domain.access.Caller`` a route makes of the staff member.

``install(app)`` maps the refusals to ``{"code", "message"}`` bodies.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer

from services.enrollment.adapters.staff_cache import StaffCache, listen
from services.enrollment.domain.access import Caller
from services.enrollment.domain.staff import (
    POLICY,
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
from shared import route_policy, staff_tokens
from shared.errors import CodedError
from shared.route_policy import Policy
from shared.staff_tokens import Unauthenticated

log = logging.getLogger(__name__)

# Declared for the OpenAPI page (its "Authorize" button logs in through /api/v1/session); the
# header itself is read by current_staff, which refuses more precisely than this scheme does.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/session", auto_error=False)


@dataclass(frozen=True)
class TokenKeys:
    """The key pair for signed access tokens; either half may be missing (not configured)."""

    private: Ed25519PrivateKey | None
    public: Ed25519PublicKey | None

    @functools.cached_property
    def verifier(self) -> staff_tokens.Verifier | None:
        """Verifies signed tokens once each (``shared.staff_tokens.Verifier``)."""
        return staff_tokens.Verifier(self.public) if self.public is not None else None


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


async def token_keys(request: Request) -> TokenKeys:
    """``get_token_keys`` as a dependency (async: a plain def would run in a worker thread)."""
    return get_token_keys(request)


TokenKeysDep = Annotated[TokenKeys, Depends(token_keys)]


async def current_staff(
    request: Request,
    sessionmaker: SessionmakerDep,
    keys: TokenKeysDep,
    _documented: Annotated[str | None, Depends(oauth2_scheme)],
) -> Staff:
    """The staff member the request's bearer token belongs to, or 401 ``UNAUTHENTICATED``."""
    token = staff_tokens.bearer_token(request.headers.get("Authorization"))
    cache: StaffCache | None = getattr(request.app.state, "staff_cache", None)
    staff = await authenticate(sessionmaker, token, keys.verifier, cache=cache)
    request.state.staff = staff  # for the access log and the audit rows of the route
    return staff


CurrentStaff = Annotated[Staff, Depends(current_staff)]


def start_staff_cache(app: FastAPI, database_url: str) -> Callable[[], Awaitable[None]]:
    """Keep the staff members requests read in ``app.state.staff_cache``, emptied whenever the
    registry changes (``adapters/staff_cache.py``); returns the coroutine function that stops it."""
    cache = app.state.staff_cache = StaffCache()
    stop = asyncio.Event()
    task = asyncio.create_task(listen(cache, database_url, stop), name="staff-cache")

    async def stopped() -> None:
        stop.set()
        try:
            await asyncio.wait_for(task, 10)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()

    return stopped


PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/session"),
        # The ops console's login form and its stylesheet (SPEC §10).
        ("GET", "/console/login"),
        ("POST", "/console/login"),
        ("GET", "/console/static/{name}"),
    }
)
"""The only routes without a staff token: liveness, metrics and the logins themselves."""


@functools.cache
def require(*actions: Action) -> Callable[[Staff], Awaitable[Staff]]:
    """A dependency: the caller, when the role table lets their role do one of ``actions``;
    else 403. It declares the route's policy too (``shared.route_policy``).

    Cached per set of actions, so a route and its router asking the same share one check.
    """
    if not actions:
        raise ValueError("require() needs at least one action")

    async def allowed(staff: CurrentStaff) -> Staff:
        if not any(may(staff.role, action) for action in actions):
            wanted = " or ".join(action.value for action in actions)
            raise Forbidden(f"the {staff.role.value} role may not do {wanted}")
        return staff

    allowed.__name__ = "require_" + "_or_".join(action.name.lower() for action in actions)
    roles = tuple(role.value for role, granted in POLICY.items() if granted & set(actions))
    policy = Policy("staff", tuple(action.value for action in actions), roles)
    return route_policy.mark(allowed, policy)


@functools.cache
def acting(*actions: Action) -> Callable[[Staff], Awaitable[Caller]]:
    """``require(*actions)``, answering the ``Caller`` the handlers take (scope, actor, audit).

    Use as ``caller: Annotated[Caller, Depends(acting(Action.X))]``.
    """
    allowed = require(*actions)

    # A default, not an Annotated[...]: annotations are strings here (PEP 563), and a string
    # naming a closure's variable cannot be resolved by FastAPI.
    async def as_caller(staff: Staff = Depends(allowed)) -> Caller:
        return Caller.of(staff)

    as_caller.__name__ = f"acting_{allowed.__name__}"
    return as_caller


def default_deny() -> Any:
    """The app-wide dependency refusing every route that declares no policy (403)."""
    return Depends(route_policy.guard(PUBLIC_ROUTES))


def document_policies(app: FastAPI) -> None:
    """Each route's policy in the OpenAPI document (``x-policy``)."""
    route_policy.document(app, PUBLIC_ROUTES)


def route_table(app: FastAPI) -> list[route_policy.RoutePolicy]:
    """Every route of the app with its policy (None: undeclared), for the route-table test."""
    return route_policy.route_table(app, PUBLIC_ROUTES)


STATUS_BY_CODE = {"STAFF_NOT_FOUND": 404, "STAFF_EXISTS": 409}


def install(app: FastAPI) -> None:
    """Answer the access refusals as ``{"code", "message"}`` with their statuses."""

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        response = error(401, exc.code, exc.message)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(Forbidden)
    @app.exception_handler(route_policy.NoPolicy)
    async def _forbidden(_: Request, exc: CodedError) -> JSONResponse:
        return error(403, exc.code, exc.message)

    @app.exception_handler(TooManyAttempts)
    async def _too_many(_: Request, exc: TooManyAttempts) -> JSONResponse:
        response = error(429, exc.code, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(StaffError)
    async def _staff(_: Request, exc: StaffError) -> JSONResponse:
        return error(STATUS_BY_CODE.get(exc.code, 422), exc.code, exc.message)
