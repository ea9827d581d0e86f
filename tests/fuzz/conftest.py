"""The fuzz tests' servers: both services once per session, on PostgreSQL when it answers.

* ``settlement`` / ``enrollment`` — ``servers.Served``: base URL, the usual caller's headers;
* ``server_errors`` — the ERROR records the servers logged during the current test: a fuzzed
  call must leave none (a 500, or an exception that escaped to uvicorn and closed the
  connection).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PG_AVAILABLE, _create_pg_database, _drop_pg_database
from tests.fuzz import servers
from tests.support.sample_events import certno


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A fresh database per service: PostgreSQL when reachable (as in CI), else SQLite."""
    if not PG_AVAILABLE:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 in CI")
        folder = tmp_path_factory.mktemp("fuzz-db")
        yield {name: f"sqlite:///{folder / name}.db" for name in ("settlement", "enrollment")}
        return
    made = {name: _create_pg_database() for name in ("settlement", "enrollment")}
    try:
        yield {name: url for name, (_, url) in made.items()}
    finally:
        for database, _ in made.values():
            _drop_pg_database(database)


@pytest.fixture(scope="session")
def token_keys(tmp_path_factory):
    return servers.key_pair(tmp_path_factory.mktemp("staff-keys"))


@pytest.fixture(scope="session")
def settlement(database_urls, token_keys) -> Iterator[servers.Served]:
    with servers.settlement(database_urls["settlement"], token_keys) as served:
        yield served


@pytest.fixture(scope="session")
def enrollment(database_urls, token_keys) -> Iterator[servers.Served]:
    with servers.enrollment(database_urls["enrollment"], token_keys) as served:
        person = {
            "certno": certno(7),
            "name": "张三",
            "category": "student",
            "region": "371502",
            "organization": "聊城市第一中学",
            "insurance_year": 2024,
        }
        made = httpx.post(
            f"{served.url}/api/v1/persons", json=person, headers=served.headers, timeout=30
        )
        assert made.status_code == 201, made.text
        served.extra["psn_no"] = made.json()["psn_no"]
        yield served


@pytest.fixture(scope="session")
def _error_log() -> Iterator[servers.ServerErrors]:
    handler = servers.ServerErrors()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.fixture
def server_errors(_error_log) -> servers.ServerErrors:
    _error_log.take()  # what earlier tests left is theirs
    return _error_log
