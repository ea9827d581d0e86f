"""The one place refusals become HTTP: a status and ``{"code", "message"}`` at the top level."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.settlement.errors import Conflict, InvalidRequest, NotFound, Unauthenticated
from shared import http_errors
from shared.errors import CodedError

log = logging.getLogger(__name__)

FAILED = "the settlement service failed; retry later"

# Any other coded refusal (the engine's ``Rejected`` first of all) is 422.
STATUS: dict[type[CodedError], int] = {
    Unauthenticated: 401,
    NotFound: 404,
    Conflict: 409,
    InvalidRequest: 422,
}


def refusal(status: int, code: str, message: str) -> JSONResponse:
    """A refusal's response; a 401 says which scheme to use."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def error_response(exc: Exception) -> JSONResponse:
    """The answer to an exception: a coded refusal's status, else a logged 500."""
    if isinstance(exc, CodedError):
        return refusal(STATUS.get(type(exc), 422), exc.code, exc.message)
    log.exception("unexpected error", exc_info=exc)
    return refusal(500, "INTERNAL_ERROR", FAILED)


def install(app: FastAPI) -> None:
    """Map refusals and unexpected errors to HTTP on ``app``."""
    http_errors.install(app, refusal, FAILED)

    @app.exception_handler(CodedError)
    async def _coded(_: Request, exc: CodedError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return refusal(422, "INVALID_REQUEST", problems or "invalid request")
