"""POST /api/v1/settlements straight from ASGI, ahead of FastAPI's router.

The settle call is the hot path of the HIS API: FastAPI's routing, request handler and
exception middleware cost about a seventh of the server's time per settlement (py-spy). This
middleware answers that one call itself, with the same service call, status, headers and
refusal bodies as the route in ``routes.py`` (which stays for the OpenAPI document and for any
app built without this middleware). Every other request passes through untouched; the
body-size limit and server-error middleware outside it still apply.
"""

from __future__ import annotations

import logging
from typing import Any

from services.settlement.engine import Rejected
from services.settlement.entrypoints.api.deps import current_hospital, parse_json
from services.settlement.entrypoints.api.errors import STATUS, refusal
from services.settlement.errors import InvalidRequest, ServiceError
from services.settlement.service_layer.settlements import Answer

log = logging.getLogger(__name__)

PATH = "/api/v1/settlements"
_JSON = (b"content-type", b"application/json")
_REPLAYED = (b"idempotent-replayed", b"true")


class SettleFastPath:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            answer = await _settle(scope, receive)
        except Rejected as exc:
            await refusal(422, exc.code, exc.message)(scope, receive, send)
            return
        except ServiceError as exc:
            await refusal(STATUS.get(type(exc), 422), exc.code, exc.message)(scope, receive, send)
            return
        except Exception as exc:
            log.exception("unexpected error", exc_info=exc)
            await refusal(500, "INTERNAL_ERROR", "the settlement service failed; retry later")(
                scope, receive, send
            )
            return
        headers = [_JSON, (b"content-length", str(len(answer.body)).encode())]
        if answer.replayed:
            headers.append(_REPLAYED)
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


async def _settle(scope: Any, receive: Any) -> Answer:
    service = scope["app"].state.service
    authorization = key = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"idempotency-key" and key is None:
            key = value.decode("latin-1")
    hospital = await current_hospital(service, authorization)
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequest("INVALID_REQUEST", "the client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return await service.settle(hospital, parse_json(b"".join(chunks)), key)
