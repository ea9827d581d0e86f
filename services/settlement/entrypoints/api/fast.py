"""POST /api/v1/settlements straight from ASGI, ahead of FastAPI's router.

The settle call is the hot path of the HIS API: FastAPI's routing, request handler and
exception middleware cost about a seventh of the server's time per settlement (py-spy). This
middleware serves that one call with the handler the route in ``routes.py`` uses
(``deps.settle``) and the same refusals (``errors.error_response``); the route stays for the
OpenAPI document and for any app built without this middleware. Every other request passes
through untouched; the body-size limit and server-error middleware outside it still apply.
"""

from __future__ import annotations

from typing import Any

from services.settlement.entrypoints.api import deps
from services.settlement.entrypoints.api.errors import error_response
from services.settlement.errors import InvalidRequest

PATH = "/api/v1/settlements"
_JSON = (b"content-type", b"application/json")
_REPLAYED = (b"idempotent-replayed", b"true")


class SettleFastPath:
    """ASGI middleware answering POST /api/v1/settlements itself."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        authorization = key = language = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"idempotency-key" and key is None:
                key = value.decode("latin-1")
            elif name == b"accept-language" and language is None:
                language = value.decode("latin-1")

        async def read_body() -> bytes:
            return await _body(receive)

        try:
            service = scope["app"].state.service
            answer = await deps.settle(service, authorization, key, read_body, language)
        except Exception as exc:
            await error_response(exc)(scope, receive, send)
            return
        headers = [_JSON, (b"content-length", str(len(answer.body)).encode())]
        if answer.replayed:
            headers.append(_REPLAYED)
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequest("INVALID_REQUEST", "the client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
