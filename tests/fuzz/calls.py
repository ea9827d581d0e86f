"""Calls of every operation a service documents, built from its live OpenAPI document.

* ``sweep(operations, …)`` — deterministic: every parameter of every operation, and every field
  of every documented JSON body, set in turn to each value that once broke a call, the rest good;
* ``request_for(operation, …)`` — a hypothesis strategy: one call with any of its parameters and
  body fields nasty, its body broken or replaced by a garbage file.

A call is the keyword arguments of ``httpx.Client.request``; ``send`` adds the caller's headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import strategies as st

from tests.fuzz.values import (
    CONTENT_TYPES,
    KILLERS,
    NASTY_STRINGS,
    bodies,
    dumps,
    header,
    killers,
    scalars,
    values,
)
from tests.support.sample_events import certno

Operation = tuple[str, str, dict[str, Any]]
"""(method, path, the OpenAPI operation)."""

GOOD_VALUES: dict[str, str] = {
    "year": "2024",
    "month": "2024-03",
    "source": "civil_affairs",
    "format": "json",
    "certno": certno(7),
    "limit": "10",
    "after_id": "0",
    "from": "2024-01-01",
    "to": "2024-12-31",
    "status": "all",
    "resolved": "false",
    "organization": "聊城市第一中学",
    "date": "2024-03-01",
}
"""A value each parameter takes (psn_no: the served person's), so calls reach the handlers."""

GOOD_BODIES: dict[str, dict[str, Any]] = {
    "PersonCreate": {
        "certno": certno(8),
        "name": "李四",
        "category": "student",
        "region": "371502",
        "organization": "聊城市第一中学",
        "insurance_year": 2024,
    },
    "IdentityChange": {
        "identity": "subsistence",
        "medical_assistance": True,
        "reason": "civil-affairs list",
        "evidence_ref": "MZ-2024-001",
    },
    "DeathRecord": {"date_of_death": "2024-05-01", "settlement_deadline": "2024-06-01"},
    "Payout": {"paid_on": "2024-05-01", "reference": "voucher 1"},
}

BODY_KILLERS: list[Any] = [None, [], {}, True, 10**30, 2**63, 1e308, "", "\x00", "\ud800"]
BODY_KILLERS.append("x" * 100_000)

GARBAGE_FILES: list[tuple[str, bytes]] = [
    ("empty.csv", b""),
    ("wide.csv", (",".join(f"c{i}" for i in range(10_000)) + "\n").encode() * 3),
    ("fake.xlsx", b"certno,name\n1,2\n"),
    ("zip.xlsx", b"PK\x03\x04" + b"\x00" * 100),
    ("nul.csv", b"\x00" * 1000),
    ("quote.csv", b'"' * 10_000),
    ("nul-cells.csv", b"certno,name,category,organization,region\n\x00,\x00,\x00,\x00,\x00\n"),
]


def operations(url: str) -> list[Operation]:
    """Every operation the service at ``url`` documents."""
    schema = httpx.get(f"{url}/openapi.json", timeout=30).json()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def url_value(text: str) -> str:
    """``text`` in a URL, whatever it holds (a lone surrogate is sent as its UTF-8 bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def good_value(name: str, psn_no: str) -> str:
    return psn_no if name in ("psn_no", "subsidy_id", "setl_id") else GOOD_VALUES.get(name, "x")


def _url(path: str, parameters: dict[tuple[str, str], str | None]) -> str:
    query = []
    for (name, where), value in parameters.items():
        if where == "path":
            path = path.replace(f"{{{name}}}", url_value(value or ""))
        elif where == "query" and value is not None:
            query.append(f"{name}={url_value(value)}")
    return f"{path}?{'&'.join(query)}" if query else path


def _body_name(spec: dict[str, Any]) -> str | None:
    content = spec.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    ref: str = content["application/json"].get("schema", {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] or None


def leaves(document: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every scalar in a JSON document (keys and list indices)."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from leaves(value, (*at, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from leaves(value, (*at, index))
    else:
        yield at


def replaced(document: Any, at: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``document`` with the leaf at ``at`` set to ``value``."""
    if not at:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[at[0]] = replaced(document[at[0]], at[1:], value)
    return copy


def good_bodies(spec: dict[str, Any], path: str, known: dict[str, Any]) -> list[Any]:
    """The good bodies of an operation: by its body schema's name, else by its path."""
    found = known.get(_body_name(spec) or "", known.get(path, []))
    return found if isinstance(found, list) else [found]


def sweep(
    operations: list[Operation], psn_no: str, known: dict[str, Any] = GOOD_BODIES
) -> Iterator[tuple[Operation, dict[str, Any]]]:
    """Each parameter of each operation, and each leaf of each of its good bodies, in turn, as
    each value that once broke a call (the rest good): (operation, call) pairs."""
    for operation in operations:
        method, path, spec = operation
        named = [(p["name"], p["in"]) for p in spec.get("parameters", [])]
        good = {key: good_value(key[0], psn_no) for key in named if key[1] in ("path", "query")}
        documents = good_bodies(spec, path, known)
        body = {"content": dumps(documents[0])} if documents else {}
        for key in good:
            for value in KILLERS:
                yield operation, {"method": method, "url": _url(path, {**good, key: value}), **body}
        for document in documents:
            for at in leaves(document):
                for value in BODY_KILLERS:
                    content = dumps(replaced(document, at, value))
                    yield operation, {"method": method, "url": _url(path, good), "content": content}


@st.composite
def garbage_file(draw: st.DrawFn) -> tuple[str, bytes]:
    """A file no list reader takes: random bytes, 10,000 columns, an .xlsx that is not one…"""
    return draw(
        st.one_of(
            st.sampled_from(GARBAGE_FILES),
            st.tuples(st.sampled_from(["a.csv", "a.xlsx", "a", "a.txt"]), st.binary(max_size=500)),
        )
    )


nasty_text = st.one_of(
    st.sampled_from(NASTY_STRINGS[:-1]),
    st.text(max_size=30),
    scalars.map(str).filter(lambda text: len(text) < 1000),  # a URL has its limits
)


@st.composite
def request_for(
    draw: st.DrawFn,
    operation: Operation,
    psn_no: str,
    known: dict[str, Any] = GOOD_BODIES,
) -> dict[str, Any]:
    """One fuzzed call of ``operation``: parameters good, nasty or left out; the body documented
    with nasty fields, broken, a garbage file or none."""
    method, path, spec = operation
    parameters: dict[tuple[str, str], str | None] = {}
    for parameter in spec.get("parameters", []):
        key = (parameter["name"], parameter["in"])
        good = st.just(good_value(key[0], psn_no))
        parameters[key] = draw(st.one_of(good, killers, nasty_text, st.none()))
    request: dict[str, Any] = {"method": method, "url": _url(path, parameters)}
    content = spec.get("requestBody", {}).get("content", {})
    kind = draw(st.sampled_from(["documented", "json", "file", "raw", "none"]))
    if kind == "documented" and "application/json" in content:
        documents = good_bodies(spec, path, known) or [{}]
        request["content"] = draw(bodies(draw(st.sampled_from(documents))))
        request["headers"] = {"Content-Type": header(draw(st.sampled_from(CONTENT_TYPES)))}
    elif kind == "documented" and content:  # a form: the login's
        names = ["username", "password", "grant_type", "scope", "client_id"]
        fields = draw(st.lists(st.sampled_from(names)))
        form = [f"{name}={url_value(draw(st.one_of(killers, nasty_text)))}" for name in fields]
        request["content"] = "&".join(form).encode()
        request["headers"] = {"Content-Type": b"application/x-www-form-urlencoded"}
    elif kind == "json":
        request["content"] = dumps(draw(values))
    elif kind == "file":
        request["files"] = {draw(st.sampled_from(["file", "other"])): draw(garbage_file())}
    elif kind == "raw":
        request["content"] = draw(garbage_file())[1]
    return request


def send(http: httpx.Client, request: dict[str, Any], headers: dict[str, Any]) -> httpx.Response:
    """Make the call as the caller of ``headers`` (a call's own headers win)."""
    return http.request(**{**request, "headers": {**headers, **request.get("headers", {})}})
