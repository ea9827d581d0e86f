"""Default deny, read off the route tables of BOTH apps (SPEC §8): every route declares who may
call it, in the OpenAPI document (``x-policy``) and on the route itself; the public ones are an
explicit allow-list. A new route without a policy fails here (and answers 403 at run time)."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from services.enrollment.domain.staff import POLICY, Action, Role
from services.enrollment.entrypoints.api import auth
from services.enrollment.entrypoints.api.app import create_app as enrollment_app
from services.enrollment.settings import Settings as EnrollmentSettings
from services.settlement.entrypoints.api import staff_auth
from services.settlement.entrypoints.api.app import create_app as settlement_app
from services.settlement.settings import Settings as SettlementSettings

pytestmark = pytest.mark.unit

FRAMEWORK_PAGES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
"""FastAPI's own documentation pages: no data behind them."""

SERVICES = {
    "enrollment": (
        lambda: enrollment_app(EnrollmentSettings()),
        auth.route_table,
        auth.PUBLIC_ROUTES,
    ),
    "settlement": (
        lambda: settlement_app(SettlementSettings()),
        staff_auth.route_table,
        staff_auth.PUBLIC_ROUTES,
    ),
}


@pytest.fixture(params=sorted(SERVICES))
def service(request):
    make, table, public = SERVICES[request.param]
    app = make()
    return request.param, app, table(app), public


def test_every_operation_of_the_openapi_document_declares_its_policy(service):
    name, app, _, public = service
    operations = [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]
    assert operations
    for method, path, operation in operations:
        policy = operation.get("x-policy")
        assert policy, f"{name}: {method} {path} declares no policy"
        assert policy["auth"] in {"staff", "hospital", "public"}
        if policy["auth"] == "public":
            assert (method, path) in public, f"{name}: {method} {path} is public unlisted"
        if policy["auth"] == "staff":
            assert policy["actions"] and policy["roles"], f"{name}: {method} {path}"


def test_every_route_of_the_app_declares_its_policy(service):
    name, app, table, public = service
    undeclared = [f"{e.method} {e.path}" for e in table if e.policy is None]
    assert undeclared == [], f"{name}: routes without a policy (they answer 403)"
    declared = {id(e.route) for e in table}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            assert id(route) in declared, f"{name}: {route.path} missing from the route table"
        else:  # not an API route: only the framework's pages may be there
            assert context.path in FRAMEWORK_PAGES, f"{name}: {context.path} has no policy"
    listed = {(e.method, e.path) for e in table if e.policy and e.policy.auth == "public"}
    assert listed == set(public), f"{name}: the public allow-list and the routes differ"


def test_enrollment_routes_are_staff_routes_whose_roles_are_the_role_table():
    table = auth.route_table(enrollment_app(EnrollmentSettings()))
    for entry in table:
        if entry.policy.auth == "public":
            continue
        assert entry.policy.auth == "staff", f"{entry.method} {entry.path}"
        actions = {Action(a) for a in entry.policy.actions}
        expected = {role.value for role in Role if POLICY[role] & actions}
        assert set(entry.policy.roles) == expected, f"{entry.method} {entry.path}"


def test_settlement_ops_routes_are_staff_routes_and_hospital_routes_keep_their_keys():
    table = staff_auth.route_table(settlement_app(SettlementSettings()))
    for entry in table:
        if entry.path.startswith("/api/v1/ops"):
            assert entry.policy.auth == "staff", f"{entry.method} {entry.path}"
        elif entry.policy.auth != "public":
            assert entry.policy.auth in {"hospital", "staff"}, f"{entry.method} {entry.path}"
    hospital = {e.path for e in table if e.policy.auth == "hospital"}
    assert {"/api/v1/settlements", "/api/v1/persons/{psn_no}/coverage"} <= hospital
