"""School-list import: 100,000 rows on SQLite and PostgreSQL, beside a bare executemany insert.

The import parses the CSV, validates every row, folds nothing (new people), builds each
``registered`` event and writes events, lookups and outbox rows in 1,000-row transactions. The
baseline inserts the same 100,000 rows' six columns into a plain table with executemany, in the
same chunks: the floor any import on that database could reach.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, insert

from services.enrollment.bootstrap import migrate_async, unit_of_work_factory
from services.enrollment.domain.school_lists import parse_list
from services.enrollment.service_layer.school_lists import ImportBy, import_rows
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared.certno import check_character
from shared.db import make_engine, make_sessionmaker

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CHUNK = 1000


def certno(n: int) -> str:
    born = (date(2005, 1, 1) + timedelta(days=n // 1000)).strftime("%Y%m%d")
    first17 = f"371502{born}{n % 1000:03d}"
    return first17 + check_character(first17)


def school_list(rows: int) -> bytes:
    lines = ["certno,name,category,organization,region,identity"]
    lines += [f"{certno(n)},学生{n},student,聊城市第{n % 50}中学,371502," for n in range(rows)]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


async def baseline(url: str, data: bytes) -> float:
    """Bare executemany of the same rows (no validation, no events), chunked the same way."""
    meta = MetaData()
    table = Table(
        "bench_rows",
        meta,
        *(Column(c, String(100)) for c in ("certno", "name", "category", "org", "region", "id")),
    )
    text = data.decode("utf-8-sig").splitlines()[1:]
    rows = [dict(zip(table.c.keys(), line.split(","), strict=True)) for line in text]
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
        started = time.perf_counter()
        for start in range(0, len(rows), CHUNK):
            async with engine.begin() as conn:
                await conn.execute(insert(table), rows[start : start + CHUNK])
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def run_import(url: str, data: bytes) -> float:
    await migrate_async(url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        report = await import_rows(
            unit_of_work_factory(make_sessionmaker(engine)),
            parse_list(data),
            2025,
            PREMIUM_RULES_DIR,
            by=ImportBy.system(),
            chunk_rows=CHUNK,
        )
        elapsed = time.perf_counter() - started
        assert report.registered == ROWS and not report.errors, report.as_dict()["rejected"]
        return elapsed
    finally:
        await engine.dispose()


def _pg_database() -> tuple[str, str] | None:
    try:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name, PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    except Exception as exc:  # no server: report and skip that engine
        print(f"   PostgreSQL unavailable ({exc}); skipped")
        return None


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(engine: str, seconds: float, floor: float) -> None:
    print(
        f"   {engine:<10} import {ROWS:,} rows: {seconds:6.1f}s = {ROWS / seconds:8,.0f} rows/s"
        f" | bare executemany {floor:5.1f}s = {ROWS / floor:8,.0f} rows/s"
        f" | import/bare {seconds / floor:4.1f}x | target < 60s: {'OK' if seconds < 60 else 'MISS'}"
    )


def main() -> None:
    data = school_list(ROWS)
    with tempfile.TemporaryDirectory() as tmp:
        urls = [f"sqlite:///{Path(tmp) / 'import.db'}", f"sqlite:///{Path(tmp) / 'base.db'}"]
        seconds = asyncio.run(run_import(urls[0], data))
        floor = asyncio.run(baseline(urls[1], data))
        report("SQLite", seconds, floor)
    databases = [_pg_database(), _pg_database()]
    if all(databases):
        try:
            seconds = asyncio.run(run_import(databases[0][1], data))  # type: ignore[index]
            floor = asyncio.run(baseline(databases[1][1], data))  # type: ignore[index]
            report("PostgreSQL", seconds, floor)
        finally:
            for db in databases:
                _drop(db[0])  # type: ignore[index]


if __name__ == "__main__":
    main()
