"""Staff on settlement's own routes (SPEC §8, §10): ``require_staff(action)``.

Settlement checks a staff member without calling enrollment: the bearer token must be an access
token signed by enrollment (``POST /api/v1/session`` there), verified here with the public key
alone (``STAFF_TOKEN_PUBLIC_KEY_FILE``). Such a token lives 15 minutes at most, which bounds how
long a disabled member keeps access here. Enrollment's long-lived staff tokens are only stored as
hashes on enrollment's side, so settlement cannot and does not accept them.

Hospital routes keep their hospital keys; every ``/api/v1/ops/...`` route puts
``Depends(require_staff(OpsAction.X))`` on itself. ``install(app)`` answers the refusals: 401
``UNAUTHENTICATED`` (no, malformed, expired, tampered or foreign token; no key configured) and
403 ``FORBIDDEN`` (a role the table does not allow).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from services.settlement.entrypoints.api.errors import refusal
from shared import route_policy, staff_tokens
from shared.errors import CodedError
from shared.route_policy import Policy
from shared.staff_tokens import StaffClaims, Unauthenticated

log = logging.getLogger(__name__)


class OpsAction(StrEnum):
    """What settlement's staff routes ask permission for."""

    READ = "ops.read"  # statements, what-if reports, applied versions, the console's figures
    MANAGE = "ops.manage"  # an ops route that changes something


OPS_POLICY: dict[str, frozenset[OpsAction]] = {
    "admin": frozenset(OpsAction),
    "city": frozenset({OpsAction.READ}),
    "auditor": frozenset({OpsAction.READ}),
}
"""Settlement's role table: the city centre reads, the auditor reads, admin does all; the
enrollment roles bounded by a region, organization or source have no settlement figures."""

PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        # The ops console's way to enrollment's login, and its stylesheet (SPEC §10).
        ("GET", "/console/login"),
        ("GET", "/console/static/{name}"),
        # FHIR R4: a server's CapabilityStatement is read before any credential (SPEC §9).
        ("GET", "/fhir/R4/metadata"),
    }
)


class Forbidden(CodedError):
    """A verified staff member whose role may not do this: 403 ``FORBIDDEN``."""

    def __init__(self, message: str) -> None:
        super().__init__("FORBIDDEN", message)


_NOT_READ = object()


def verifier(request: Request) -> staff_tokens.Verifier | None:
    """The staff-token verifier of the settings' public key, made once (None: no key set)."""
    found = getattr(request.app.state, "staff_token_verifier", _NOT_READ)
    if found is _NOT_READ:
        found = None
        settings = getattr(request.app.state, "settings", None)
        path = getattr(settings, "staff_token_public_key_file", None)
        if path is not None:
            try:
                found = staff_tokens.Verifier(staff_tokens.load_public_key(path))
            except (OSError, ValueError) as exc:
                log.error("staff token public key unusable, staff routes refused: %s", exc)
        request.app.state.staff_token_verifier = found
    return found  # type: ignore[return-value]


async def current_staff(request: Request) -> StaffClaims:
    """The staff member of the request's signed access token, or 401 ``UNAUTHENTICATED``."""
    token = staff_tokens.bearer_token(request.headers.get("Authorization"))
    if not staff_tokens.is_access_token(token):
        raise Unauthenticated(
            "settlement takes a signed access token: log in at enrollment's /api/v1/session"
        )
    checker = verifier(request)
    if checker is None:
        raise Unauthenticated("staff tokens are not accepted here (no verification key)")
    return checker.verify(token)


CurrentStaff = Annotated[StaffClaims, Depends(current_staff)]


@functools.cache
def require_staff(action: OpsAction) -> Callable[[StaffClaims], Awaitable[StaffClaims]]:
    """A dependency: the verified staff member when settlement's table allows ``action``.

    It is also the route's declared policy (``shared.route_policy``).
    """

    async def allowed(staff: CurrentStaff) -> StaffClaims:
        if action not in OPS_POLICY.get(staff.role, frozenset()):
            raise Forbidden(f"the {staff.role} role may not do {action.value}")
        return staff

    allowed.__name__ = f"require_staff_{action.name.lower()}"
    roles = tuple(role for role, actions in OPS_POLICY.items() if action in actions)
    return route_policy.mark(allowed, Policy("staff", (action.value,), roles))


def install(app: FastAPI) -> None:
    """Answer staff refusals with their statuses (more specific than the coded-error handler)."""

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        return refusal(401, exc.code, exc.message)

    @app.exception_handler(Forbidden)
    @app.exception_handler(route_policy.NoPolicy)
    async def _forbidden(_: Request, exc: CodedError) -> JSONResponse:
        return refusal(403, exc.code, exc.message)


def default_deny() -> Any:
    """The app-wide dependency refusing every route that declares no policy (403)."""
    return Depends(route_policy.guard(PUBLIC_ROUTES))


def document_policies(app: FastAPI) -> None:
    """Each route's policy in the OpenAPI document (``x-policy``)."""
    route_policy.document(app, PUBLIC_ROUTES)


def route_table(app: FastAPI) -> list[route_policy.RoutePolicy]:
    """Every route of the app with its policy (None: undeclared), for the route-table test."""
    return route_policy.route_table(app, PUBLIC_ROUTES)
