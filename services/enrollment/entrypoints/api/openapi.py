"""The OpenAPI document says what the service really answers: every refusal of every operation,
with ``ErrorPublic`` as its body (``shared.openapi``)."""

from __future__ import annotations

from fastapi import FastAPI

from services.enrollment.entrypoints.api.auth import PUBLIC_ROUTES
from shared.openapi import document_refusals


def install(app: FastAPI) -> None:
    """Document 401/403/422 by each route's policy and parameters, and every refusal's body
    (FastAPI's own validation-error schema is never sent: errors.py answers instead)."""
    document_refusals(app, PUBLIC_ROUTES)
