"""The consoles' web plumbing, shared by both services: templates, language, session, CSRF.

* **Templates**: Jinja2, the service's own folder first, then ``shared/console/templates``
  (the layout, the table and pager macros). Every asset is served by the service itself
  (``static_router``): the consoles work with no internet.
* **Session**: the signed access token of enrollment's login, kept in an HttpOnly, SameSite=Strict
  cookie (``SESSION_COOKIE``). Cookies belong to a host, not a port, so on one host (``make run``,
  compose) the token enrollment's login set is sent to the settlement console too; with the
  consoles on two hosts of one domain, ``CONSOLE_COOKIE_DOMAIN`` shares it.
* **CSRF**: every form that changes something carries ``csrf_for(token)``, a digest of the
  session token that a page of another site cannot read; the login form, before any session,
  carries a random value that must equal its own cookie (double submit).
* **Language**: ``?lang=zh`` or ``?lang=en`` (remembered in a cookie), else the browser's
  ``Accept-Language``; every label comes from ``labels.LABELS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shared.china_time import CHINA_STANDARD_TIME
from shared.console.labels import LANGUAGES, translate
from shared.console.params import Note

SHARED_TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {"console.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
LANG_COOKIE = "console_lang"


class LoginRequired(Exception):
    """No valid session: a browser is sent to the login page ``url`` (303), others get 401."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class NotAllowed(Exception):
    """A logged-in member whose role may not open this page: a 403 page saying so."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the staff member of the session cookie's token (or, for scripts, of an
    ``Authorization: Bearer`` header, which no other site can make a browser send)."""

    name: str
    role: str
    token: str
    from_cookie: bool = True

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    def form_ok(self, given: object) -> bool:
        """Whether a form may act for this viewer: its CSRF value is right (cookie sessions)."""
        return not self.from_cookie or csrf_ok(self.csrf, given)


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link of the page's navigation: its label key and path."""

    label: str
    path: str


def csrf_for(token: str) -> str:
    """The CSRF value of a session: only a page that can read the session's own pages knows it."""
    return hashlib.sha256(b"console-csrf\0" + token.encode()).hexdigest()[:40]


def csrf_ok(expected: str | None, given: object) -> bool:
    """Whether a form's CSRF value is the expected one (constant time)."""
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected, given)


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def language(request: Request) -> str:
    """``?lang=``, then the remembered choice, then the browser's preference; English otherwise."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    if kept in LANGUAGES:
        return kept
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def credentials(request: Request) -> tuple[str, bool] | None:
    """The token a console request carries and whether it came in the session cookie: an
    ``Authorization: Bearer`` header first (scripts, tests), else the cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else None


def login_path(request: Request, login: str) -> str:
    """The login page, asked to come back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{login}?{urlencode({'next': here})}"


def setting(request: Request, name: str, default: Any) -> Any:
    """A field of the app's settings (its default before the app has started)."""
    return getattr(getattr(request.app.state, "settings", None), name, default)


def peer_url(template: str, request: Request) -> str:
    """The other console's URL; ``{host}`` stands for the host this page was asked on."""
    return template.replace("{host}", request.url.hostname or "127.0.0.1").rstrip("/")


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


async def caught_up(
    request: Request,
    catch_up: Callable[[Any, float], Awaitable[int | None]],
    every: float = 1.0,
    budget: float = 1.5,
) -> list[Note]:
    """Bring the sums a page reads up to date (``catch_up(engine, budget)``: at most once every
    ``every`` seconds per process, at most ``budget`` seconds of the page's time); a note when
    they are not current yet (the sums as they stand)."""
    state = request.app.state
    last = getattr(state, "console_caught_up_at", None)
    if last is not None and time.monotonic() - last < every:
        return []
    upto = await catch_up(state.engine, budget)
    state.console_caught_up_at = time.monotonic()
    return [Note("note.summary_stale")] if upto is None else []


def money(value: Decimal | int | None) -> str:
    return "—" if value is None else f"{Decimal(value):,.2f}"


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def percent(part: Decimal | int, whole: Decimal | int) -> str:
    return "—" if not whole else f"{Decimal(part) * 100 / Decimal(whole):.1f}%"


def china_time(value: datetime | None) -> str:
    """An instant as a clock in the city shows it."""
    if value is None:
        return "—"
    return value.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")


def _environment(service_templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(service_templates), jinja2.FileSystemLoader(SHARED_TEMPLATES)]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the test, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, count=count, when=china_time)
    env.globals.update(percent=percent)
    env.tests.update(
        decimal=lambda value: isinstance(value, Decimal),
        instant=lambda value: isinstance(value, datetime),
    )
    return env


class Console:
    """One service's console: its templates, its title, its login page, the other console."""

    def __init__(
        self,
        *,
        title: str,
        templates: Path,
        login: str,
        peer_title: str,
        peer_setting: str,
        peer_default: str,
    ) -> None:
        """``peer_setting`` names the settings field holding the other console's URL."""
        self.title = title
        self.env = _environment(templates)
        self.login = login
        self.peer_title = peer_title
        self.peer_setting = peer_setting
        self.peer_default = peer_default

    def peer_url(self, request: Request) -> str:
        """The other console, as the browser should reach it."""
        return peer_url(setting(request, self.peer_setting, self.peer_default), request)

    @staticmethod
    def cookie_domain(request: Request) -> str | None:
        """``CONSOLE_COOKIE_DOMAIN``: the session shared by consoles on two hosts of a domain."""
        return setting(request, "console_cookie_domain", None)  # type: ignore[no-any-return]

    def page(
        self,
        request: Request,
        template: str,
        *,
        viewer: Viewer | None,
        nav: Sequence[NavItem] = (),
        notes: Sequence[Note] = (),
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """Render a page with the layout's context; the language choice is remembered."""
        lang = language(request)

        def t(key: str, /, **args: Any) -> str:
            return translate(lang, key, **args)

        def url(**changes: Any) -> str:
            params = dict(request.query_params)
            params.pop("lang", None)
            for name, value in changes.items():
                if value is None:
                    params.pop(name, None)
                else:
                    params[name] = str(value)
            return request.url.path + (f"?{urlencode(params)}" if params else "")

        peer = self.peer_url(request)
        body = self.env.get_template(template).render(
            request=request,
            t=t,
            lang=lang,
            url=url,
            viewer=viewer,
            nav=nav,
            notes=[t(note.key, **note.args) for note in notes],
            title=t(self.title),
            peer_title=t(self.peer_title),
            peer=peer,
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        self.secure(response, form_targets=(origin(peer),))
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
        return response

    @staticmethod
    def secure(response: Response, form_targets: Sequence[str] = ()) -> None:
        """Headers of every console answer: nothing from elsewhere, no framing, no caching."""
        targets = " ".join(t for t in form_targets if t)
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self' data:; "
            f"form-action 'self' {targets}; frame-ancestors 'none'; base-uri 'none'"
        ).replace("  ", " ")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"

    def set_session(self, request: Request, response: Response, token: str, ttl: int) -> None:
        """Keep the access token in the session cookie for as long as the token lives."""
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=ttl,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            domain=self.cookie_domain(request),
        )

    def end_session(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            domain=self.cookie_domain(request),
        )

    def install(self, app: FastAPI) -> None:
        """The answers to ``LoginRequired`` (303 to the login page) and ``NotAllowed`` (403)."""

        @app.exception_handler(LoginRequired)
        async def _login(request: Request, exc: LoginRequired) -> Response:
            # A browser asking for a page goes on to the login form; any other client gets the
            # 401 every route answers a caller without credentials (its page links the form).
            if "text/html" in request.headers.get("accept", ""):
                response: Response = RedirectResponse(exc.url, status_code=303)
                self.secure(response)
                return response
            response = self.page(request, "login_needed.html", viewer=None, status=401, to=exc.url)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response

        @app.exception_handler(NotAllowed)
        async def _forbidden(request: Request, exc: NotAllowed) -> Response:
            return self.page(request, "message.html", viewer=None, status=403, message=exc.message)


def static_router() -> APIRouter:
    """``GET /console/static/NAME``: the stylesheet and icon, served by the service."""
    router = APIRouter(include_in_schema=False)

    @router.get("/console/static/{name}")
    async def static(name: str) -> Response:
        media = STATIC_TYPES.get(name)
        if media is None:
            return Response("not found", status_code=404, media_type="text/plain")
        response = Response((STATIC / name).read_bytes(), media_type=media)
        response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return router
