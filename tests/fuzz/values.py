"""What a careless or hostile client sends, as hypothesis strategies, and what every answer to
it must be.

The values are those that broke the services once (a list where a string goes, 10**30 as an
amount, "NaN", a NUL that PostgreSQL cannot hold, a truncated body) and their neighbours.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fuzz.servers import ServerErrors

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""The fuzz tests' settings: calls over HTTP take their time, the servers are the session's."""

HUGE_NUMBERS = [10**30, -(10**30), 10**400, 2**63, -(2**63) - 1, 2**64, 1e308, -1e308, 1.5, 0.1]
NASTY_STRINGS = [
    "",
    " ",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e5000",
    "1E-5000",
    "0.001",
    "-0",
    "-1",
    "12,3",
    "１２３",
    "\x00",
    "a\x00b",
    "\t\r\n",
    "\ud800",
    "'; DROP TABLE events; --",
    "%00",
    "../../etc/passwd",
    "2024-02-30",
    "2024-03-01T25:00:00",
    "9999-12-31T23:59:59+14:00",
    "x" * 100_000,
]

KILLERS = [
    "\x00",
    "a\x00b",
    "\ud800",
    str(2**63),
    str(-(2**63) - 1),
    "1" * 30,
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00+14:00",
    "2024-13",
    "x" * 1000,
]
"""The values that broke a call once: one of them is drawn often, wherever a value goes."""

killers = st.sampled_from(KILLERS)

scalars = st.one_of(
    killers,
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE_NUMBERS),
    st.floats(),  # NaN and ±Infinity too: json.dumps writes them, as some clients do
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=40),
)
"""Any JSON scalar, the nasty ones often."""

values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
"""Any JSON value: a scalar, or a list or an object where a scalar goes."""


def dumps(document: Any) -> bytes:
    """JSON as a lax client writes it: NaN allowed, lone surrogates escaped."""
    return json.dumps(document).encode()


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], fields: list[str] | None = None) -> bytes:
    """``base`` with 1–3 of its fields (or of ``fields``) set to a nasty value or left out."""
    document = dict(base)
    names = fields or sorted(base) or ["field"]
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        if draw(st.integers(0, 9)) == 0:
            document.pop(name, None)
        else:
            document[name] = draw(values)
    return dumps(document)


@st.composite
def broken(draw: st.DrawFn, good: bytes) -> bytes:
    """A body no parser takes whole: truncated, random, nested too deep, not UTF-8 …"""
    return draw(
        st.one_of(
            st.integers(0, max(len(good) - 1, 0)).map(lambda n: good[:n]),
            st.binary(max_size=200),
            st.sampled_from(
                [
                    b"",
                    b"[" * 100_000,
                    b'{"a":' * 50_000,
                    b"\xff\xfe\x00{",
                    b'{"psn_no": "\xff\xfe"}',
                    b'{"medfee_sumamt": 1' + b"0" * 5000 + b"}",
                    b"\xef\xbb\xbf" + good,
                    b"null",
                    b"[1, 2]",
                    b'"a claim"',
                    b"NaN",
                    good + b"garbage",
                    good.replace(b"{", b"{" + good[1:-1] + b",", 1),  # every key twice
                ]
            ),
        )
    )


def bodies(base: dict[str, Any], fields: list[str] | None = None) -> st.SearchStrategy[bytes]:
    """Bodies around a good one: mostly it with nasty fields, sometimes not JSON at all."""
    good = dumps(base)
    return st.one_of(mutated(base, fields), mutated(base, fields), broken(good))


CONTENT_TYPES = [
    "application/json",
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
]

header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=["Cc"]), max_size=60
).map(str.strip)
"""A header value HTTP carries: visible latin-1 and inner spaces (anything else is not HTTP, and
the server's parser, not the application, refuses it)."""

garbage_authorization = st.one_of(
    st.sampled_from(
        [
            "",
            "Bearer",
            "bearer x",
            "Basic YWRtaW46YWRtaW4=",
            "Bearer a.b.c",
            "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
            "Bearer " + "x" * 10_000,
            "Bearer x y",
            "Bearer \u00e9",
        ]
    ),
    header_text,
    header_text.map(lambda text: f"Bearer {text}".strip()),
)
"""An Authorization header that authenticates nobody."""


def header(value: str) -> bytes:
    """A header value as bytes on the wire (latin-1; HTTP has no other)."""
    return value.encode("latin-1")


def check_answer(response: httpx.Response, errors: ServerErrors) -> None:
    """No answer ≥ 500; a refusal is JSON ``{"code", "message"}``; the servers logged no error
    (an unexpected exception, even one answered, is a bug)."""
    request = f"{response.request.method} {response.request.url}"
    assert response.status_code < 500, f"{request}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"{request}: a {response.status_code} without JSON") from None
        assert isinstance(body, dict), f"{request}: {body!r}"
        if body.get("resourceType") == "OperationOutcome":  # FHIR's refusal (SPEC §9)
            assert "/fhir/" in request, f"{request}: {body!r}"
            body = _outcome(body)
        assert isinstance(body.get("code"), str), f"{request}: no code in {body!r}"
        assert isinstance(body.get("message"), str), f"{request}: no message in {body!r}"
    logged = errors.take()
    assert not logged, f"{request}: the server logged\n" + "\n".join(logged)


def _outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """The code and message an OperationOutcome carries (SPEC §9: the §5 code)."""
    coding = outcome["issue"][0]["details"]["coding"][0]
    return {"code": coding.get("code"), "message": coding.get("display")}
