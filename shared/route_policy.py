"""Every route declares who may call it (SPEC §8), and a route that does not is refused.

A dependency that guards routes carries its ``Policy`` (``mark``): enrollment's
``require(Action.X)``, settlement's ``require_staff(...)`` and its hospital-key dependency. A route
that authenticates by hand (settlement's settle fast path) gives its policy in ``openapi_extra``
under ``x-policy``. Each app lists the few routes anyone may call (``public``). Then:

* ``guard(public)`` is an app-wide dependency (``FastAPI(dependencies=[...])``): a request to a
  route that declares no policy and is not public answers 403 ``FORBIDDEN`` (default deny);
* ``document(app, public)`` writes each route's policy into its OpenAPI operation as ``x-policy``;
* ``route_table(app, public)`` lists every route with its policy (None: undeclared), for tests.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from shared.errors import CodedError

log = logging.getLogger(__name__)

POLICY_KEY = "x-policy"
_ATTRIBUTE = "__route_policy__"
F = TypeVar("F", bound=Callable[..., Any])
Public = Collection[tuple[str, str]]
"""(method, path) pairs anyone may call."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Who may call a route: ``auth`` is ``staff``, ``hospital`` or ``public``; a staff route
    names the ``actions`` it needs (any one of them) and the ``roles`` allowed one."""

    auth: str
    actions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    def as_openapi(self) -> dict[str, Any]:
        return {"auth": self.auth, "actions": list(self.actions), "roles": list(self.roles)}

    @classmethod
    def from_openapi(cls, raw: dict[str, Any]) -> Policy:
        return cls(raw["auth"], tuple(raw.get("actions", ())), tuple(raw.get("roles", ())))


PUBLIC = Policy("public")


class NoPolicy(CodedError):
    """A route that declares no access policy: 403 ``FORBIDDEN`` whoever calls."""

    def __init__(self, path: str) -> None:
        super().__init__("FORBIDDEN", f"{path} declares no access policy")


def mark(dependency: F, policy: Policy) -> F:
    """Attach ``policy`` to a guarding dependency (returned as is)."""
    setattr(dependency, _ATTRIBUTE, policy)
    return dependency


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """One method of one route (``path`` as OpenAPI writes it) and its policy (None: none)."""

    method: str
    path: str
    policy: Policy | None
    route: APIRoute


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _declared(dependant: Dependant, openapi_extra: dict[str, Any] | None) -> Policy | None:
    found: list[Policy] = [
        p for p in (getattr(c, _ATTRIBUTE, None) for c in _calls(dependant)) if p is not None
    ]
    if found:  # one that names actions says more than a bare authentication
        return max(found, key=lambda p: len(p.actions) > 0)
    explicit = (openapi_extra or {}).get(POLICY_KEY)
    return Policy.from_openapi(explicit) if explicit else None


def route_table(app: FastAPI, public: Public) -> list[RoutePolicy]:
    """Every API route of ``app`` (included routers' too) per method, with its policy."""
    table = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        policy = _declared(context.dependant, context.openapi_extra)
        path = str(context.path_format or context.path)
        for method in sorted(context.methods or ()):
            if policy is None and (method, path) in public:
                table.append(RoutePolicy(method, path, PUBLIC, route))
            else:
                table.append(RoutePolicy(method, path, policy, route))
    return table


def guard(public: Public) -> Callable[[Request], Awaitable[None]]:
    """The app-wide dependency that refuses routes without a policy. The route table is read
    on a route's first request, so routers included after the app was made count too."""
    declared: set[int] = set()
    refused: set[int] = set()

    async def default_deny(request: Request) -> None:
        route = request.scope.get("route")
        key = id(route)
        if key in declared:
            return
        if key not in refused:
            entries = [e for e in route_table(request.app, public) if e.route is route]
            if entries and all(e.policy is not None for e in entries):
                declared.add(key)
                return
            refused.add(key)
            log.error("%s declares no access policy: refused", request.url.path)
        raise NoPolicy(request.url.path)

    return default_deny


def document(app: FastAPI, public: Public) -> None:
    """Write each route's policy into its OpenAPI operation (``x-policy``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        paths = schema.get("paths", {})
        for entry in route_table(app, public):
            operation = paths.get(entry.path, {}).get(entry.method.lower())
            if operation is not None and entry.policy is not None:
                operation[POLICY_KEY] = entry.policy.as_openapi()
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
