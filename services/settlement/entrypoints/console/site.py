"""The settlement console's frame: its ``Console``, navigation, the summary's freshness.

Every money page first brings ``ledger_daily`` up to date (``ledger_summary.catch_up``), at
most once a second per process, so a page shows the ledger as it stands when asked.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.routing import iter_route_contexts

from services.settlement.adapters import ledger_summary
from shared.china_time import china_today
from shared.console.params import Note
from shared.console.web import Console, NavItem, caught_up

TEMPLATES = Path(__file__).parent / "templates"
CATCH_UP_EVERY = 1.0  # seconds


CONSOLE = Console(
    title="console.settlement",
    templates=TEMPLATES,
    login="/console/login",
    peer_title="console.enrollment",
    peer_setting="console_enrollment_url",
    peer_default="http://{host}:8001/console",
)
enrollment_console = CONSOLE.peer_url

PAGES = (
    NavItem("nav.overview", "/console"),
    NavItem("nav.settlements", "/console/settlements"),
    NavItem("nav.funds", "/console/funds"),
    NavItem("nav.refusals", "/console/refusals"),
    NavItem("nav.catastrophic", "/console/catastrophic"),
    NavItem("nav.pipeline", "/console/pipeline"),
    NavItem("nav.statements", "/console/statements"),
)
WHAT_IF = NavItem("nav.what_if", "/console/what-if")
WHAT_IF_ROUTE = "/api/v1/ops/what-if"


def has_route(request: Request, path: str) -> bool:
    """Whether the app serves ``path`` (the what-if report is an optional part of the service)."""
    return any(
        str(context.path_format or context.path) == path
        for context in iter_route_contexts(request.app.routes)
    )


def nav(request: Request) -> list[NavItem]:
    """The console's pages; the what-if report when the service has it."""
    return [*PAGES, WHAT_IF] if has_route(request, WHAT_IF_ROUTE) else list(PAGES)


async def fresh_summary(request: Request) -> list[Note]:
    """Bring the daily ledger summary up to date (a note if that could not be done now)."""
    return await caught_up(request, ledger_summary.catch_up, CATCH_UP_EVERY)


def page(request: Request, name: str, viewer: Any, notes: list[Note], **context: Any) -> Any:
    """Render the page ``name`` (its template ``name.html``, headed ``nav.name``) with the
    console's frame."""
    return CONSOLE.page(
        request,
        f"{name}.html",
        viewer=viewer,
        nav=nav(request),
        notes=notes,
        heading=f"nav.{name}",
        **context,
    )


def fund_names() -> list[tuple[str, str]]:
    """The three funds: the answer's field and the label key."""
    return [
        ("hifp_pay", "fund.basic"),
        ("hifmi_pay", "fund.catastrophic"),
        ("maf_pay", "fund.assistance"),
    ]


def today_year() -> int:
    return china_today().year


def yuan(value: Decimal | int) -> str:
    """A figure in a chart's tooltip: money with two decimals."""
    return f"{Decimal(value):,.2f}"
