"""Request dependencies: the service and the calling hospital (from its API key)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from services.settlement.adapters.hospitals import Hospital
from services.settlement.errors import InvalidRequest
from services.settlement.service_layer.settlements import SettlementService


async def get_service(request: Request) -> SettlementService:
    # async: a plain def dependency would cost a thread hop per request
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[SettlementService, Depends(get_service)]


async def current_hospital(
    service: Service, authorization: Annotated[str | None, Header()] = None
) -> Hospital:
    """The hospital whose key is in ``Authorization: Bearer KEY``; 401 otherwise."""
    scheme, _, key = (authorization or "").partition(" ")
    return await service.authenticate(key.strip() if scheme.lower() == "bearer" else None)


CurrentHospital = Annotated[Hospital, Depends(current_hospital)]


def parse_json(body: bytes) -> Any:
    """The body as JSON; decimals stay exact (a float would lose fen)."""
    try:
        return json.loads(body, parse_float=Decimal)
    except ValueError:
        raise InvalidRequest("INVALID_REQUEST", "the body is not JSON") from None


async def json_body(request: Request) -> Any:
    return parse_json(await request.body())


JsonBody = Annotated[Any, Depends(json_body)]
