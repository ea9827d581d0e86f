"""Prometheus plumbing both services share: the HTTP request counter and the exposition.

* ``CountRequests`` is an ASGI middleware counting every HTTP answer by method, route template
  (``/api/v1/persons/{psn_no}``, never the raw path: one series per route, not per person)
  and status; the 5xx alert reads it.
* ``exposition`` is the text ``/metrics`` answers. With ``PROMETHEUS_MULTIPROC_DIR`` set (the
  settlement API runs two uvicorn workers in docker-compose) every process writes its samples
  there and the answer sums them, whichever worker Prometheus reaches; ``serve`` starts the same
  on a port of its own (``settlement consume``, which has no HTTP server).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
    start_http_server,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
UNMATCHED = "unmatched"
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


def route_template(scope: Scope, extra: Collection[str] = ()) -> str:
    """The route a request matched, its parameters named (``UNMATCHED`` if none did)."""
    path = str(scope.get("path", ""))
    if path in extra:
        return path
    if scope.get("route") is None:
        return UNMATCHED
    params = scope.get("path_params")
    if not params:
        return path
    names = {str(value): name for name, value in params.items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in path.split("/"))


class CountRequests:
    """Count every HTTP answer on ``counter`` (labels: method, route, status).

    ``extra`` names paths answered ahead of the router (settlement's settle fast path), which
    would otherwise count as unmatched.
    """

    def __init__(self, app: Any, counter: Counter, extra: Collection[str] = ()) -> None:
        self.app = app
        self.counter = counter
        self.extra = frozenset(extra)
        # (method, route, status) → its child: labels() takes a lock and builds a key each time.
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception that escapes every handler is answered 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            key = (scope.get("method", ""), route_template(scope, self.extra), status)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self.counter.labels(key[0], key[1], str(status))
            child.inc()


def registry() -> CollectorRegistry:
    """This process's registry, or one summing every process's files in multiprocess mode."""
    if not os.environ.get(MULTIPROCESS):
        return REGISTRY
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed)  # type: ignore[no-untyped-call]
    return summed


def exposition() -> bytes:
    """What ``/metrics`` answers."""
    return generate_latest(registry())


def serve(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from another container
    """Answer ``/metrics`` on ``port`` from a thread (a process without an HTTP server)."""
    start_http_server(port, addr=host, registry=registry())
