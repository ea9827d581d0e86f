"""The settlement ops console (SPEC §10): ``/console``, server-rendered, staff only.

``install(app)`` adds its routes and the answers to a missing session (to the login page, which
is enrollment's) and to a role that may not look (a 403 page). See docs/console.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.settlement.entrypoints.console import auth, pages, pipeline, reports
from services.settlement.entrypoints.console.site import CONSOLE
from shared.console.web import static_router


def install(app: FastAPI) -> None:
    """Serve the console on ``app``."""
    CONSOLE.install(app)
    for router in (static_router(), auth.router, pages.router, pipeline.router, reports.router):
        app.include_router(router)
