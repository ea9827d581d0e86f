"""The enrollment console's frame: its ``Console``, the pages a role may open, rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request

from services.enrollment.domain.staff import Action, Role, may
from shared.console.params import Note
from shared.console.web import Console, NavItem, Viewer, peer_url

TEMPLATES = Path(__file__).parent / "templates"
LOGIN = "/console/login"


def settlement_console(request: Request) -> str:
    """Settlement's console, as the browser should reach it."""
    settings = getattr(request.app.state, "settings", None)  # set once the app has started
    template = getattr(settings, "console_settlement_url", "http://{host}:8002/console")
    return peer_url(template, request).rstrip("/")


def _cookie_domain(request: Request) -> str | None:
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "console_cookie_domain", None)


CONSOLE = Console(
    title="console.enrollment",
    templates=TEMPLATES,
    login=LOGIN,
    peer_title="console.settlement",
    peer_url=settlement_console,
    cookie_domain=_cookie_domain,
)

PAGES: tuple[tuple[NavItem, tuple[Action, ...]], ...] = (
    (NavItem("nav.overview", "/console"), (Action.READ_REPORTS, Action.READ_UNMATCHED)),
    (NavItem("nav.registrations", "/console/registrations"), (Action.READ_REPORTS,)),
    (NavItem("nav.collection", "/console/collection"), (Action.READ_REPORTS,)),
    (NavItem("nav.special", "/console/special"), (Action.READ_REPORTS,)),
    (NavItem("nav.unmatched", "/console/unmatched"), (Action.READ_UNMATCHED,)),
    (NavItem("nav.relay", "/console/relay"), (Action.READ_REPORTS,)),
)
"""Each page and the actions that open it (any one of them)."""


def allowed(viewer: Viewer, *actions: Action) -> bool:
    """Whether the viewer's role may do one of ``actions``."""
    return any(may(Role(viewer.role), action) for action in actions)


def page(request: Request, template: str, viewer: Viewer, notes: list[Note], **context: Any) -> Any:
    """Render ``template`` with the console's frame and the pages this viewer may open."""
    nav = [item for item, actions in PAGES if allowed(viewer, *actions)]
    return CONSOLE.page(request, template, viewer=viewer, nav=nav, notes=notes, **context)
