"""The special persons' lists at 100,000 rows, beside ``import_list``'s school-list figure.

On SQLite and PostgreSQL, one year of a district's special persons:

* a department's carry-over list of 100,000 rows (GB18030 CSV): parsed, validated and stored;
* the district's submit and the city's freeze: 100,000 people registered for the year with the
  list's identity from 1 January (four to five events each, with their premium and subsidy);
* civil affairs' monthly medical-assistance list of 100,000 rows (half of them newly flagged).

The aim is the issue's: a 100,000-row list imported in under a minute.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.import_list import _drop, _pg_database
from services.enrollment.bootstrap import migrate_async, unit_of_work_factory
from services.enrollment.domain.access import Caller
from services.enrollment.domain.assistance import parse_assistance
from services.enrollment.domain.calendar import Month
from services.enrollment.domain.carry_over import parse_carry_over
from services.enrollment.domain.staff import Source
from services.enrollment.service_layer import carry_over
from services.enrollment.service_layer.assistance import upload_list
from services.enrollment.service_layer.persons import Context, rules_from_directory
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared.certno import check_character
from shared.db import make_engine, make_sessionmaker

ROWS = int(os.environ.get("BENCH_SPECIAL_ROWS", "100000"))
YEAR = 2025
IDENTITIES = ("低保", "特困", "重度残疾", "孤儿", "低收入老年人")


def certno(n: int) -> str:
    """The n-th of many distinct valid ID numbers (born from 1940 on, a thousand a day)."""
    born = (date(1940, 1, 1) + timedelta(days=n // 1000)).strftime("%Y%m%d")
    first17 = f"450204{born}{n % 1000:03d}"
    return first17 + check_character(first17)


def numbers(rows: int) -> list[str]:
    return [certno(n) for n in range(rows)]


def carry_over_file(ids: list[str]) -> bytes:
    lines = ["身份证号,姓名,身份,医疗救助,行政区划,乡镇街道"]
    lines += [
        f"{c},居民{n},{IDENTITIES[n % 5]},{'是' if n % 3 == 0 else '否'},450204,街道{n % 12}"
        for n, c in enumerate(ids)
    ]
    return ("\n".join(lines) + "\n").encode("gb18030")


def assistance_file(ids: list[str]) -> bytes:
    lines = ["身份证号,姓名,行政区划"] + [f"{c},居民{n},450204" for n, c in enumerate(ids)]
    return ("\n".join(lines) + "\n").encode("gb18030")


Timing = tuple[float, float]
"""(wall seconds, CPU seconds of this process) of one step."""


def _since(start: Timing) -> Timing:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def _now() -> Timing:
    return time.perf_counter(), time.process_time()


async def run(url: str, ids: list[str]) -> tuple[Timing, Timing, Timing]:
    """Wall and CPU seconds of the carry-over upload, the submit + freeze, the monthly list.

    The CPU figure is this process's (the service's Python; PostgreSQL's own work is not in it):
    on a shared machine it says what the step costs when the wall clock says how busy it was.
    """
    await migrate_async(url)
    engine = make_engine(url)
    uow = unit_of_work_factory(make_sessionmaker(engine))
    ctx = Context(rules_for=rules_from_directory(PREMIUM_RULES_DIR))
    system = Caller.system()
    try:
        start = _now()
        parsed = parse_carry_over(carry_over_file(ids))
        await carry_over.upload(uow, YEAR, Source.CIVIL_AFFAIRS, parsed, system)
        upload, start = _since(start), _now()
        await carry_over.submit(uow, YEAR, system, ctx)
        frozen = await carry_over.freeze(uow, YEAR, system, ctx)
        assert frozen["registered"] == len(ids), frozen
        freeze, start = _since(start), _now()
        listed = parse_assistance(assistance_file(ids))
        answer = await upload_list(uow, Month(YEAR, 1), listed, system, ctx.today())
        assert answer["flagged"] + answer["unchanged"] == len(ids), answer
        return upload, freeze, _since(start)
    finally:
        await engine.dispose()


def report(engine: str, timings: tuple[Timing, Timing, Timing]) -> None:
    steps = ("carry-over upload", "submit + freeze", "monthly list")
    for what, (wall, cpu) in zip(steps, timings, strict=True):
        verdict = "OK" if wall < 60 else "MISS"
        print(
            f"   {engine:<10} {what:<18} {ROWS:,} rows: {wall:6.1f}s = {ROWS / wall:8,.0f} rows/s"
            f" | CPU {cpu:5.1f}s | target < 60s: {verdict}"
        )


def main() -> None:
    ids = numbers(ROWS)
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite", asyncio.run(run(f"sqlite:///{Path(tmp) / 'special.db'}", ids)))
    database = _pg_database()
    if database is not None:
        try:
            report("PostgreSQL", asyncio.run(run(database[1], ids)))
        finally:
            _drop(database[0])


if __name__ == "__main__":
    main()
