"""Who may open the settlement console: the session cookie's signed token, settlement's roles.

Settlement has no passwords: ``/console/login`` sends the browser to enrollment's console login,
asking it to come back. The token enrollment's login puts in the session cookie is the same
signed access token settlement's staff routes take (``staff_auth``): verified here with the
public key alone, and judged by the same role table (``OPS_POLICY``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from services.settlement.entrypoints.api.staff_auth import OPS_POLICY, OpsAction
from services.settlement.entrypoints.console.site import CONSOLE, enrollment_console
from shared import route_policy, staff_tokens
from shared.console.web import (
    Console,
    LoginRequired,
    NotAllowed,
    Viewer,
    credentials,
    login_path,
)
from shared.route_policy import Policy
from shared.staff_tokens import Unauthenticated

LOGIN = "/console/login"

router = APIRouter(include_in_schema=False)


def _public_key(request: Request) -> Ed25519PublicKey | None:
    """The staff-token verification key of the settings, read once (None: not configured)."""
    state = request.app.state
    if not hasattr(state, "console_public_key"):
        path = state.settings.staff_token_public_key_file
        try:
            state.console_public_key = staff_tokens.load_public_key(path) if path else None
        except (OSError, ValueError):
            state.console_public_key = None  # staff_auth logs it; the console asks to log in
    return state.console_public_key  # type: ignore[no-any-return]


@functools.cache
def viewer_for(action: OpsAction) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency: the console's viewer when settlement's role table allows ``action``;
    no or an expired session → the login page; another role → a 403 page."""

    async def viewer(request: Request) -> Viewer:
        found = credentials(request)
        key = _public_key(request)
        if found is None or key is None or not staff_tokens.is_access_token(found[0]):
            raise LoginRequired(login_path(request, LOGIN))
        token, from_cookie = found
        try:
            claims = staff_tokens.verify(key, token)
        except Unauthenticated:
            raise LoginRequired(login_path(request, LOGIN)) from None
        if action not in OPS_POLICY.get(claims.role, frozenset()):
            raise NotAllowed(f"the {claims.role} role may not do {action.value}")
        return Viewer(claims.name, claims.role, token, from_cookie)

    viewer.__name__ = f"console_viewer_{action.name.lower()}"
    roles = tuple(role for role, actions in OPS_POLICY.items() if action in actions)
    return route_policy.mark(viewer, Policy("staff", (action.value,), roles))


@router.get(LOGIN)
async def login(request: Request, next: str = "/console") -> RedirectResponse:
    """Log in at enrollment's console, then come back to ``next`` (a path of this console)."""
    if not next.startswith("/console") or next.startswith("//"):
        next = "/console"
    back = f"{request.url.scheme}://{request.url.netloc}{next}"
    response = RedirectResponse(
        f"{enrollment_console(request)}/login?{urlencode({'next': back})}", status_code=303
    )
    Console.secure(response)
    return response


@router.post("/console/logout")
async def logout(
    request: Request, viewer: Annotated[Viewer, Depends(viewer_for(OpsAction.READ))]
) -> Response:
    """End the session (the cookie both consoles share); a form of this site only (CSRF)."""
    form = await request.form()
    if not viewer.form_ok(form.get("csrf")):
        return Response("the form expired: go back and try again", status_code=403)
    response = RedirectResponse(f"{enrollment_console(request)}/login", status_code=303)
    CONSOLE.end_session(request, response)
    Console.secure(response)
    return response
