"""Request dependencies and the settle handler the route and the ASGI fast path share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from services.settlement.adapters.hospitals import Hospital
from services.settlement.entrypoints.api.language import language_of
from services.settlement.errors import InvalidRequest
from services.settlement.service_layer.answers import Answer
from services.settlement.service_layer.settlements import SettlementService
from shared import route_policy
from shared.json_body import NotJson, loads

HOSPITAL_KEY = route_policy.Policy("hospital")
"""Hospital routes: the caller is the hospital whose API key is the bearer token."""


async def get_service(request: Request) -> SettlementService:
    """The application's service (``app.state.service``, set by the app's lifespan)."""
    # async: a plain def dependency would cost a thread hop per request
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[SettlementService, Depends(get_service)]


async def current_hospital(
    service: Service, authorization: Annotated[str | None, Header()] = None
) -> Hospital:
    """The hospital whose key is in ``Authorization: Bearer KEY``; 401 otherwise."""
    scheme, _, key = (authorization or "").partition(" ")
    return await service.authenticate(key.strip() if scheme.lower() == "bearer" else None)


# The declared policy of every route that depends on it (shared.route_policy).
route_policy.mark(current_hospital, HOSPITAL_KEY)
CurrentHospital = Annotated[Hospital, Depends(current_hospital)]


def parse_json(body: bytes) -> Any:
    """The body as JSON; decimals stay exact (a float would lose fen)."""
    try:
        return loads(body)
    except NotJson as exc:
        raise InvalidRequest("INVALID_REQUEST", str(exc)) from None


async def json_body(request: Request) -> Any:
    """The request's body as JSON."""
    return parse_json(await request.body())


JsonBody = Annotated[Any, Depends(json_body)]


async def settle(
    service: SettlementService,
    authorization: str | None,
    idempotency_key: str | None,
    read_body: Callable[[], Awaitable[bytes]],
    accept_language: str | None = None,
) -> Answer:
    """POST /api/v1/settlements, whichever way it arrived: the hospital from its key, then the
    body (not read for an unknown key), then the service's settle (its receipt in Chinese for
    ``Accept-Language: zh``)."""
    hospital = await current_hospital(service, authorization)
    body = parse_json(await read_body())
    return await service.settle(hospital, body, idempotency_key, language_of(accept_language))
