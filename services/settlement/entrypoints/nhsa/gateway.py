"""``POST /api/nhsa/v1``: the national platform's one URL, every transaction by ``infno``.

The hospital is the key's (``Authorization: Bearer KEY``), as on the HIS API, and the
envelope's ``fixmedins_code`` must be that hospital's code (``HOSPITAL_MISMATCH``). Every
answer is HTTP 200 with the platform's envelope; a refusal of any kind — no key, a bad envelope,
an unknown ``infno``, an ``input`` of the wrong shape, a claim refused — is ``infcode`` −1 with
"CODE: message", and nothing is written. An unexpected failure is logged and answered the same
way (``INTERNAL_ERROR``), never as a bare 500 the HIS cannot read.

Served ahead of FastAPI's router (``GatewayFastPath``), like the HIS API's settle call: the
gateway's overhead against the native call is what ``bench/nhsa_gateway.py`` measures.
"""

from __future__ import annotations

import logging
from typing import Any

from services.settlement.adapters.nhsa_messages import MessageLog
from services.settlement.adapters.statement_lines import LedgerLines
from services.settlement.engine.region import Region, load_region
from services.settlement.entrypoints.nhsa import envelope
from services.settlement.entrypoints.nhsa.handlers import HANDLERS, Call
from services.settlement.errors import InvalidRequest, ServiceError
from services.settlement.service_layer.nhsa import NhsaService
from services.settlement.service_layer.settlements import SettlementService
from shared.errors import CodedError

log = logging.getLogger(__name__)

PATH = "/api/nhsa/v1"
DEFAULT_REGION = "liaocheng"
_JSON = (b"content-type", b"application/json")


class Gateway:
    """The gateway of one app: its use cases and region, built on the app's service."""

    def __init__(self, service: SettlementService, engine: Any, region: Region) -> None:
        self.service = service
        self.region = region
        self.nhsa = NhsaService(service, MessageLog(engine), LedgerLines(engine))

    async def answer(self, authorization: str | None, body: bytes) -> bytes:
        """The envelope answered to a request body: always the platform's JSON."""
        received = envelope.china_now()
        admdvs = self.region.admdvs
        try:
            scheme, _, key = (authorization or "").partition(" ")
            hospital = await self.service.authenticate(
                key.strip() if scheme.lower() == "bearer" else None
            )
            request = envelope.parse(body)
            if request.fixmedins_code != hospital.code:
                raise InvalidRequest(
                    "HOSPITAL_MISMATCH",
                    f"fixmedins_code {request.fixmedins_code} is not the key's hospital "
                    f"{hospital.code}",
                )
            handler = HANDLERS.get(request.infno)
            if handler is None:
                raise InvalidRequest(
                    "UNKNOWN_INFNO",
                    f"infno {request.infno} is not served here (served: {', '.join(HANDLERS)})",
                )
            output = await handler(Call(self.nhsa, self.region, hospital, request), request.input)
        except CodedError as refusal:
            return envelope.answer(admdvs, received, refusal=refusal)
        except Exception:
            log.exception("the NHSA gateway failed")
            failure = ServiceError("INTERNAL_ERROR", "the settlement service failed; retry later")
            return envelope.answer(admdvs, received, refusal=failure)
        return envelope.answer(admdvs, received, output)


def gateway_of(app: Any) -> Gateway:
    """The app's gateway, built once its lifespan has wired the service."""
    state = app.state
    gateway: Gateway | None = getattr(state, "nhsa_gateway", None)
    if gateway is None or gateway.service is not state.service:
        settings = state.settings
        region = load_region(getattr(settings, "region", None) or DEFAULT_REGION)
        gateway = Gateway(state.service, state.engine, region)
        state.nhsa_gateway = gateway
    return gateway


class GatewayFastPath:
    """ASGI middleware answering POST /api/nhsa/v1 itself (HTTP 200, the platform's JSON)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        body = await _body(receive)
        if body is None:  # the client went away: nobody to answer
            return
        answer = await gateway_of(scope["app"]).answer(authorization, body)
        headers = [_JSON, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


async def _body(receive: Any) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
