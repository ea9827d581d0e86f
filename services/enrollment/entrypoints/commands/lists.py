"""School lists and the tax bureau's basic data: ``import-list``, ``export-basic-data``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from services.enrollment.entrypoints.commands import with_database

if TYPE_CHECKING:
    from services.enrollment.bootstrap import Wiring
    from services.enrollment.service_layer.school_lists import ImportReport


@click.command("import-list")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", required=True, type=int, help="Insurance year to register the rows for.")
def import_list(file: Path, year: int) -> None:
    """Register a school's list (CSV in UTF-8/GB18030, or XLSX); prints the report as JSON.

    Exits 1 when the file cannot be read, 2 when some rows were refused (the good ones are
    registered all the same).
    """
    from services.enrollment.domain.access import Caller
    from services.enrollment.domain.school_lists import ListFormatError, parse_list
    from services.enrollment.service_layer.school_lists import ImportBy, import_rows
    from services.enrollment.service_layer.staff import console_actor

    data = file.read_bytes()
    try:
        parsed = parse_list(data, file.name)
    except ListFormatError as exc:
        raise click.ClickException(exc.message) from exc
    by = ImportBy.file(Caller.system(console_actor()), data)

    async def work(wiring: Wiring) -> ImportReport:
        with click.progressbar(
            length=len(parsed.rows), label=f"registering {file.name}", file=sys.stderr
        ) as bar:
            return await import_rows(
                wiring.uow,
                parsed,
                year,
                wiring.settings.premium_rules_dir,
                by=by,
                progress=bar.update,
            )

    report = with_database(work)
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    if report.errors:
        sys.exit(2)


@click.command("export-basic-data")
@click.option("--year", required=True, type=int, help="Insurance year.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="CSV file to write.")
@click.option("--publish", is_flag=True, help="Also queue every row for enrollment.basic-data.")
def export_basic_data(year: int, out: Path | None, publish: bool) -> None:
    """Write the basic data of a year as CSV (stdout unless --out), optionally publish it."""
    from services.enrollment.domain.access import Caller
    from services.enrollment.domain.basic_data import render_csv
    from services.enrollment.service_layer import basic_data as basic_data_service
    from services.enrollment.service_layer.staff import console_actor

    caller = Caller.system(console_actor())  # the operator at the console: audited, whole IDs

    async def work(wiring: Wiring) -> tuple[str, int]:
        rows = await basic_data_service.all_rows(wiring.uow, year, caller)
        published = await basic_data_service.publish(wiring.uow, year, caller) if publish else 0
        return render_csv(rows), published

    text, published = with_database(work)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8", newline="")
    if publish:
        click.echo(f"queued {published} basic-data messages for the relay", err=True)
