"""What both HTTP services answer when the framework refuses a request, or a handler fails.

SPEC §6: every refusal is ``{"code", "message"}`` at the top level. The framework's own refusals
(an unknown route, a method the route does not take, a body it cannot parse) come as Starlette's
``HTTPException`` with ``{"detail": ...}``; ``framework_refusal`` says what each service answers
instead. ``InternalErrors`` is the last resort for a real bug.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

Respond = Callable[[int, str, str], Response]
"""A service's refusal: (status, code, message) → its ``{"code", "message"}`` response."""

FRAMEWORK_CODES = {
    400: "INVALID_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
"""The code of each status the framework refuses with; any other is the status's name."""


class ErrorPublic(BaseModel):
    """Every refusal: a stable code and a readable message (SPEC §6)."""

    code: str = Field(description="Stable error code, e.g. INVALID_REQUEST, UNAUTHENTICATED.")
    message: str = Field(description="What is wrong, for a human.")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refusal to answer: status, code, message and any headers it must carry (``Allow``)."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)


def framework_refusal(exc: HTTPException) -> Refusal:
    """The refusal for one of the framework's own ``HTTPException``.

    A 400 is a body the framework could not parse (not UTF-8, nested too deep, a broken multipart
    form): a client's mistake like any other invalid request, so 422 ``INVALID_REQUEST`` naming
    the body, as every other malformed input is (SPEC §6 has no 400).
    """
    status = exc.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "refused"
    code = FRAMEWORK_CODES.get(status, phrase.upper().replace(" ", "_").replace("-", "_"))
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    if status == 400:
        return Refusal(422, code, f"body: {message}", exc.headers or {})
    return Refusal(status, code, message, exc.headers or {})


class InternalErrors:
    """ASGI middleware: a handler's unexpected exception is a bug. It is logged with its
    traceback and answered ``500 {"code": "INTERNAL_ERROR", "message": ...}``.

    Unlike Starlette's own last resort, it does not raise the exception on to the server: uvicorn
    would then close the connection, and the client's next request on it would go unanswered.
    An exception after the answer has started cannot be answered and goes on to the server.
    """

    def __init__(self, app: Any, message: str = "the service failed; retry later") -> None:
        self.app = app
        self.message = message

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if started:
                raise
            log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            answer = JSONResponse({"code": "INTERNAL_ERROR", "message": self.message}, 500)
            await answer(scope, receive, send)


def install(app: Starlette, respond: Respond, failed: str) -> None:
    """Answer the framework's refusals with ``respond`` (the service's own refusal body) and a
    handler's unexpected error with a logged 500 ``INTERNAL_ERROR`` saying ``failed``."""
    app.add_middleware(InternalErrors, message=failed)

    async def framework(_: Request, exc: Exception) -> Response:
        # An unknown route, a method the route does not take, a body that cannot be parsed.
        answer = framework_refusal(exc)  # type: ignore[arg-type]  # registered for HTTPException
        response = respond(answer.status, answer.code, answer.message)
        response.headers.update(answer.headers)
        return response

    app.add_exception_handler(HTTPException, framework)
