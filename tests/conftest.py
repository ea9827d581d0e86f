"""Fixtures every tier shares: a real Kafka-protocol broker and real databases.

* ``kafka_bootstrap`` — a Tansu broker on a free port for the whole session.
* ``db_url`` — parametrised over SQLite (a file in tmp_path) and PostgreSQL (a fresh database
  on 127.0.0.1:5432, dropped afterwards); the PostgreSQL case is skipped only when no server
  answers (it does in CI).  ``pg_url`` is the PostgreSQL one alone, for tests of row locks and
  races that only PostgreSQL can show.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from shared import tansu

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), 0.5):
            return True
    except OSError:
        return False


PG_AVAILABLE = _pg_reachable()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with tansu.running() as bootstrap:
        yield bootstrap


def _create_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (plain ``postgresql://`` URL)."""
    if not PG_AVAILABLE:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 in CI")
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """Each database test runs on both engines."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")
