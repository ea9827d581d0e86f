"""The one place refusals become HTTP: a status and ``{"code", "message"}`` at the top level."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.settlement.engine import Rejected
from services.settlement.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    ServiceError,
    Unauthenticated,
)

log = logging.getLogger(__name__)

STATUS: dict[type[ServiceError], int] = {
    Unauthenticated: 401,
    NotFound: 404,
    Conflict: 409,
    InvalidRequest: 422,
}


def refusal(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Rejected)
    async def _rejected(_: Request, exc: Rejected) -> JSONResponse:
        return refusal(422, exc.code, exc.message)

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return refusal(STATUS.get(type(exc), 422), exc.code, exc.message)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return refusal(500, "INTERNAL_ERROR", "the settlement service failed; retry later")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return refusal(422, "INVALID_REQUEST", problems or "invalid request")
