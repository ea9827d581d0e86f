"""``settlement what-if --year Y --policy DRAFT [--region PREFIX] [--format json|xlsx|html]``:
the year's settled claims re-adjudicated under the policy in force and a draft (SPEC §10).

The draft is a policy's name or a TOML file's path. The report goes to ``--output FILE`` or to
standard output (JSON and HTML; an XLSX workbook only to a file or a pipe). A refusal — a draft
that is no valid policy, a year with no claims — is printed as ``CODE: message`` with exit 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from services.settlement import migrations
from services.settlement.adapters import what_if_files
from services.settlement.engine import PolicyError, PolicyRegistry
from services.settlement.service_layer.what_if import (
    WhatIfRefused,
    load_draft,
    regions_of,
    what_if,
)
from services.settlement.settings import Settings


@click.command("what-if")
@click.option("--year", required=True, type=click.IntRange(1990, 2100), help="Insurance year.")
@click.option(
    "--policy", "draft_name", required=True, help="The draft: a policy's name or a TOML file."
)
@click.option("--region", default=None, help="A region-code prefix (default: the draft's).")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "xlsx", "html"]), default="json",
    show_default=True,
)  # fmt: skip
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file."
)
@click.option("--workers", type=click.IntRange(1, 64), help="Processes (default: the cores).")
def what_if_command(
    year: int,
    draft_name: str,
    region: str | None,
    fmt: str,
    output: Path | None,
    workers: int | None,
) -> None:
    """Re-adjudicate a year's claims under the policy in force and a draft, side by side."""
    settings = Settings()
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        raise click.UsageError("an XLSX workbook goes to a file: add --output FILE.xlsx")
    try:
        policies = PolicyRegistry.load(settings.policy)
        draft = load_draft(
            draft_name, policies, drafts_dir=settings.policy_drafts, allow_paths=True
        )
        regions = regions_of(region, draft)
        migrations.upgrade(settings.database_url)
        document = asyncio.run(
            what_if(settings.database_url, policies, draft, year, regions, workers)
        )
    except WhatIfRefused as refusal:
        raise click.ClickException(f"{refusal.code}: {refusal.message}") from None
    except PolicyError as exc:  # the registry itself (SETTLEMENT_POLICY)
        raise click.ClickException(f"INVALID_POLICY: {exc}") from None
    if fmt == "json":
        body = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    elif fmt == "xlsx":
        body = what_if_files.xlsx(document)
    else:
        body = what_if_files.html(document)
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(body)
    click.echo(f"{what_if_files.title(document)}: {document['claims']:,} claims → {output}")
