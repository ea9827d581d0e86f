"""Logging in to the consoles (SPEC §8, §10): name and password here, one session for both.

``POST /console/login`` checks the password as ``POST /api/v1/session`` does (the same handler:
the failed-login limit and the audit rows hold) and keeps the signed access token it hands out
in the session cookie; the settlement console accepts the same cookie (see
``shared.console.web``). ``next`` may only lead to this console or the settlement console.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from services.enrollment.domain.staff import POLICY, Action, Staff, TooManyAttempts
from services.enrollment.entrypoints.api.auth import get_token_keys
from services.enrollment.entrypoints.console.site import (
    CONSOLE,
    LOGIN,
    allowed,
    settlement_console,
)
from services.enrollment.service_layer.staff import authenticate, login
from shared import route_policy
from shared.console.web import (
    LOGIN_CSRF_COOKIE,
    LoginRequired,
    NotAllowed,
    Viewer,
    credentials,
    csrf_ok,
    login_path,
    new_login_csrf,
    origin,
)
from shared.route_policy import Policy
from shared.staff_tokens import Unauthenticated

router = APIRouter(include_in_schema=False)


@functools.cache
def viewer_for(*actions: Action) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency: the console's viewer when their role may do one of ``actions``; no or an
    ended session → the login page; a role that may not → a 403 page."""

    async def viewer(request: Request) -> Viewer:
        found = credentials(request)
        if found is None:
            raise LoginRequired(login_path(request, LOGIN))
        token, from_cookie = found
        keys = get_token_keys(request)
        try:
            staff: Staff = await authenticate(request.app.state.sessionmaker, token, keys.public)
        except Unauthenticated:
            raise LoginRequired(login_path(request, LOGIN) + "&expired=1") from None
        request.state.staff = staff  # for the access log, as the API routes do
        seen = Viewer(staff.name, staff.role.value, token, from_cookie)
        if not allowed(seen, *actions):
            wanted = " or ".join(action.value for action in actions)
            raise NotAllowed(f"the {staff.role.value} role may not do {wanted}")
        return seen

    viewer.__name__ = "console_viewer_" + "_or_".join(a.name.lower() for a in actions)
    roles = tuple(role.value for role, granted in POLICY.items() if granted & set(actions))
    policy = Policy("staff", tuple(action.value for action in actions), roles)
    return route_policy.mark(viewer, policy)


def safe_next(request: Request, wanted: str | None) -> str:
    """Where to go after logging in: a path of this console or the settlement console."""
    if not wanted:
        return "/console"
    if wanted.startswith("/console") and not wanted.startswith("//"):
        return wanted
    peer = settlement_console(request)
    parts = urlsplit(wanted)
    if origin(wanted) == origin(peer) and parts.path.startswith("/console"):
        return wanted
    return "/console"


def _login_page(
    request: Request, status: int = 200, message: str | None = None, retry_after: int = 0
) -> Response:
    csrf = new_login_csrf()
    notes = ["login.expired"] if request.query_params.get("expired") else []
    response = CONSOLE.page(
        request,
        "login.html",
        viewer=None,
        status=status,
        heading="page.login",
        csrf=csrf,
        next=safe_next(request, request.query_params.get("next")),
        message=message,
        retry_after=retry_after,
        expired=notes,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, max_age=1800, httponly=True, samesite="strict")
    return response


@router.get(LOGIN)
async def login_form(request: Request) -> Response:
    """The login page."""
    return _login_page(request)


@router.post(LOGIN)
async def log_in(request: Request) -> Response:
    """Check the name and password; on success keep the session and go where asked."""
    form = await request.form()
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf")):
        return _login_page(request, 403, "login.form_expired")
    keys = get_token_keys(request)
    if keys.private is None:
        return _login_page(request, 503, "login.unavailable")
    name, password = str(form.get("username", ""))[:200], str(form.get("password", ""))[:1000]
    try:
        issued = await login(request.app.state.sessionmaker, name, password, keys.private)
    except TooManyAttempts as exc:
        return _login_page(request, 429, "login.locked", exc.retry_after)
    except Unauthenticated as exc:
        disabled = "disabled" in exc.message
        return _login_page(request, 401, "login.disabled" if disabled else "login.wrong")
    response = RedirectResponse(safe_next(request, str(form.get("next", ""))), status_code=303)
    CONSOLE.set_session(request, response, issued.token, issued.expires_in)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    CONSOLE.secure(response)
    return response


@router.post("/console/logout")
async def log_out(
    request: Request,
    viewer: Annotated[Viewer, Depends(viewer_for(*Action))],
) -> Response:
    """End the session (both consoles'); a form of this site only (CSRF)."""
    form = await request.form()
    if not viewer.form_ok(form.get("csrf")):
        return Response("the form expired: go back and try again", status_code=403)
    response = RedirectResponse(LOGIN, status_code=303)
    CONSOLE.end_session(request, response)
    CONSOLE.secure(response)
    return response
