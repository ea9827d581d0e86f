"""Errors to HTTP, in one place: ``{"code": ..., "message": ...}`` at the top level."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.enrollment.adapters.recorders import ConcurrencyConflict
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.list_files import ListFormatError
from services.enrollment.entrypoints.api.uploads import UploadRefused
from shared import http_errors
from shared.certno import redact
from shared.text import pattern_reason

STATUS_BY_CODE = {
    "PERSON_NOT_FOUND": 404,
    "VERSION_CONFLICT": 409,
    "REGISTERED_ELSEWHERE": 409,  # another organization holds the person (SPEC §8)
    # the special persons' cycle (SPEC §7)
    "CARRY_OVER_FROZEN": 409,
    "CARRY_OVER_CONFLICTS": 409,
    "CARRY_OVER_NOT_SUBMITTED": 409,
    "UNKNOWN_SOURCE": 404,
    "SUBSIDY_NOT_FOUND": 404,
    "SUBSIDY_NOT_PAYABLE": 409,
    "BACKDATE_NOT_ALLOWED": 403,
}
"""Domain codes with a status other than 422 (every other rule refusal is 422)."""


def error(status: int, code: str, message: str) -> JSONResponse:
    """A refusal's response; ID numbers in the message are masked."""
    # A message may quote the request (a field's name, a value): a lone surrogate there is not
    # UTF-8, and would fail the answer itself.
    text = redact(message).encode("utf-8", "replace").decode()
    return JSONResponse(status_code=status, content={"code": code, "message": text})


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {pattern_reason(err) or err.get('msg', 'invalid')}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into error bodies; a handler's unexpected
    error is a logged 500 ``INTERNAL_ERROR`` (``shared.http_errors.InternalErrors``)."""
    http_errors.install(app, error, "the enrollment service failed; retry later")

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return error(STATUS_BY_CODE.get(exc.code, 422), exc.code, exc.message)

    @app.exception_handler(ListFormatError)
    async def _not_a_list(_: Request, exc: ListFormatError) -> JSONResponse:
        return error(422, exc.code, exc.message)

    @app.exception_handler(UploadRefused)
    async def _upload(_: Request, exc: UploadRefused) -> JSONResponse:
        return error(exc.status, exc.code, exc.message)

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return error(409, "VERSION_CONFLICT", "the person changed concurrently; try again")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, "INVALID_REQUEST", _describe(list(exc.errors())))
