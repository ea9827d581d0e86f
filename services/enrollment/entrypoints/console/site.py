"""The enrollment console's frame: its ``Console``, the pages a role may open, rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request

from services.enrollment.adapters import console_summary
from services.enrollment.domain.staff import Action, Role, may
from shared.console.params import Note
from shared.console.web import Console, NavItem, Viewer, caught_up

TEMPLATES = Path(__file__).parent / "templates"
LOGIN = "/console/login"


CONSOLE = Console(
    title="console.enrollment",
    templates=TEMPLATES,
    login=LOGIN,
    peer_title="console.settlement",
    peer_setting="console_settlement_url",
    peer_default="http://{host}:8002/console",
)
settlement_console = CONSOLE.peer_url

PAGES: tuple[tuple[NavItem, tuple[Action, ...]], ...] = (
    (NavItem("nav.overview", "/console"), (Action.READ_REPORTS, Action.READ_UNMATCHED)),
    (NavItem("nav.registrations", "/console/registrations"), (Action.READ_REPORTS,)),
    (NavItem("nav.collection", "/console/collection"), (Action.READ_REPORTS,)),
    (NavItem("nav.special", "/console/special"), (Action.READ_REPORTS,)),
    (NavItem("nav.unmatched", "/console/unmatched"), (Action.READ_UNMATCHED,)),
    (NavItem("nav.relay", "/console/relay"), (Action.READ_REPORTS,)),
)
"""Each page and the actions that open it (any one of them)."""


async def fresh_sums(request: Request) -> list[Note]:
    """Fold the events appended since the last look into the console's sums (at most once a
    second per process); a note if that could not be done now."""
    return await caught_up(request, console_summary.catch_up)


def allowed(viewer: Viewer, *actions: Action) -> bool:
    """Whether the viewer's role may do one of ``actions``."""
    return any(may(Role(viewer.role), action) for action in actions)


def page(request: Request, name: str, viewer: Viewer, notes: list[Note], **context: Any) -> Any:
    """Render the page ``name`` (its template ``name.html``, headed ``nav.name``) with the
    console's frame and the pages this viewer may open."""
    nav = [item for item, actions in PAGES if allowed(viewer, *actions)]
    return CONSOLE.page(
        request,
        f"{name}.html",
        viewer=viewer,
        nav=nav,
        notes=notes,
        heading=f"nav.{name}",
        **context,
    )
