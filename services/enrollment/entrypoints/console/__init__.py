"""The enrollment ops console (SPEC §10): ``/console``, server-rendered, staff only.

``install(app)`` adds its routes (the login page among them) and the answers to a missing
session (to the login page) and to a role that may not look (a 403 page). See docs/console.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.enrollment.entrypoints.console import auth, pages, payments
from services.enrollment.entrypoints.console.site import CONSOLE
from shared.console.web import static_router


def install(app: FastAPI) -> None:
    """Serve the console on ``app``."""
    CONSOLE.install(app)
    for router in (static_router(), auth.router, pages.router, payments.router):
        app.include_router(router)
