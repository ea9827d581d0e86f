"""Operator commands of the collection side: ``import-list``, ``export-basic-data``,
``consume-payments`` and ``payments retry``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from shared.logging import configure

T = TypeVar("T")


def _with_database(work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Migrate, open the engine, run ``work(settings, sessionmaker)``, dispose."""
    from services.enrollment.adapters.migrate import upgrade
    from services.enrollment.settings import Settings
    from shared.db import make_engine, make_sessionmaker

    settings = Settings()
    configure("enrollment", settings.log_level)
    settings.ensure_database_dir()
    upgrade(settings.enrollment_database_url)

    async def main() -> T:
        engine = make_engine(settings.enrollment_database_url)
        try:
            return await work(settings, make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@click.command("import-list")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", required=True, type=int, help="Insurance year to register the rows for.")
def import_list(file: Path, year: int) -> None:
    """Register a school's list (CSV in UTF-8/GB18030, or XLSX); prints the report as JSON.

    Exits 1 when the file cannot be read, 2 when some rows were refused (the good ones are
    registered all the same).
    """
    from services.enrollment.domain.school_lists import ListFormatError, parse_list
    from services.enrollment.service_layer.school_lists import import_rows

    try:
        parsed = parse_list(file.read_bytes(), file.name)
    except ListFormatError as exc:
        raise click.ClickException(str(exc)) from exc

    async def work(settings: Any, sessionmaker: Any) -> Any:
        with click.progressbar(
            length=len(parsed.rows), label=f"registering {file.name}", file=sys.stderr
        ) as bar:
            return await import_rows(
                sessionmaker, parsed, year, settings.premium_rules_dir, progress=bar.update
            )

    report = _with_database(work)
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    if report.errors:
        sys.exit(2)


@click.command("export-basic-data")
@click.option("--year", required=True, type=int, help="Insurance year.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="CSV file to write.")
@click.option("--publish", is_flag=True, help="Also queue every row for enrollment.basic-data.")
def export_basic_data(year: int, out: Path | None, publish: bool) -> None:
    """Write the basic data of a year as CSV (stdout unless --out), optionally publish it."""
    from services.enrollment.domain.basic_data import render_csv
    from services.enrollment.service_layer import basic_data as basic_data_service

    async def work(_: Any, sessionmaker: Any) -> tuple[str, int]:
        rows = await basic_data_service.all_rows(sessionmaker, year)
        published = await basic_data_service.publish(sessionmaker, year) if publish else 0
        return render_csv(rows), published

    text, published = _with_database(work)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8", newline="")
    if publish:
        click.echo(f"queued {published} basic-data messages for the relay", err=True)


@click.command("consume-payments")
def consume_payments() -> None:
    """Consume tax.premium-payments (group ``enrollment``) until SIGINT/SIGTERM."""
    from services.enrollment.entrypoints.payment_consumer import PaymentConsumer

    async def work(settings: Any, sessionmaker: Any) -> None:
        consumer = PaymentConsumer(
            sessionmaker,
            settings.kafka_bootstrap_servers,
            batch_size=settings.payment_batch_size,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, consumer.stop)
        await consumer.run()

    _with_database(work)


@click.group()
def payments() -> None:
    """The tax bureau's payments: unmatched list and retries."""


@payments.command("retry")
def retry() -> None:
    """Replay the unmatched messages (after a late registration or another fix)."""
    from services.enrollment.service_layer.payments import retry_unmatched

    async def work(_: Any, sessionmaker: Any) -> Any:
        return await retry_unmatched(sessionmaker)

    outcome = _with_database(work)
    click.echo(
        json.dumps(
            {
                "applied": outcome.applied,
                "duplicates": outcome.duplicates,
                "still_unmatched": outcome.unmatched,
                "reasons": outcome.reasons,
            }
        )
    )
