"""The last resort and the framework's refusals both services install (shared.http_errors), over
real HTTP: a bug is a logged 500 ``INTERNAL_ERROR`` that keeps the connection; an unknown route,
a method a route does not take and a body FastAPI cannot parse are coded refusals."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared import http_errors
from tests.support.serve import served

pytestmark = pytest.mark.integration


class Body(BaseModel):
    name: str


def refusal(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = FastAPI()
    http_errors.install(app, refusal, "the test service failed; retry later")

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a real bug")

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/named")
    async def named(body: Body) -> dict[str, Any]:
        return body.model_dump()

    with served(app, loop="uvloop", http="httptools") as base:
        yield base


def test_a_bug_is_a_logged_500_with_a_code(url, caplog):
    caplog.set_level(logging.ERROR)
    answer = httpx.get(f"{url}/bug")
    assert answer.status_code == 500
    assert answer.json() == {
        "code": "INTERNAL_ERROR",
        "message": "the test service failed; retry later",
    }
    logged = [r for r in caplog.records if r.name == "shared.http_errors"]
    assert logged and logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], RuntimeError)


def test_the_connection_outlives_a_bug(url):
    """Two requests in one write: both are answered on the same connection (a bug raised on to
    uvicorn would close it after the first, and the second would go unanswered)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"GET /bug HTTP/1.1\r\nHost: test\r\n\r\nGET /ok HTTP/1.1\r\nHost: test\r\n\r\n"
        )
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b'{"ok":true}'):
            chunk = connection.recv(65536)
            assert chunk, f"the connection closed after: {received!r}"
            received += chunk
    assert received.startswith(b"HTTP/1.1 500 ")
    assert b"HTTP/1.1 200 " in received


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/no-such-route", None, 404, "NOT_FOUND"),
        ("DELETE", "/ok", None, 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/named", b"[" * 100_000, 422, "INVALID_REQUEST"),  # FastAPI's 400
        ("POST", "/named", b'{"name": "\xff"}', 422, "INVALID_REQUEST"),
    ],
)
def test_the_frameworks_refusals_are_coded(url, method, path, body, status, code):
    headers = {"Content-Type": "application/json"}
    answer = httpx.request(method, f"{url}{path}", content=body, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert answer.json()["message"]
    if status == 405:
        assert answer.headers["allow"] == "GET"
