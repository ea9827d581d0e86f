"""The what-if where fund managers meet it (SPEC §10): `settlement what-if` and
GET /api/v1/ops/what-if for staff, as JSON, an XLSX workbook and a self-contained HTML page;
refusals name the problem and are never a 500."""

from __future__ import annotations

import asyncio
import io
import json
import re

import httpx
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from services.settlement.entrypoints.api.app import create_app
from services.settlement.entrypoints.cli import cli
from services.settlement.settings import Settings
from shared import staff_tokens

from .test_what_if import DRAFT_TEXT, SOURCE, edited, worked_examples

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def draft_file(tmp_path):
    path = tmp_path / "drafts" / "liaocheng-2025-draft.toml"
    path.parent.mkdir()
    path.write_text(DRAFT_TEXT, encoding="utf-8")
    return path


async def run(world, *args: str) -> tuple[int, str, bytes]:
    """The command, in a thread: it runs an event loop of its own."""
    env = {"SETTLEMENT_DATABASE_URL": world.settlement.settings.database_url}
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["what-if", *args], env=env)
    return result.exit_code, result.output, result.stdout_bytes


async def test_the_command_in_json_xlsx_and_html(world, draft_file, tmp_path):
    await worked_examples(world)
    code, _, out = await run(world, "--year", "2024", "--policy", str(draft_file))
    assert code == 0, out
    report = json.loads(out)
    assert report["totals"]["draft"]["fund_pay_sumamt"] == "271129.50"
    assert report["totals"]["in_force"]["fund_pay_sumamt"] == "259712.00"

    book_path = tmp_path / "report.xlsx"
    code, output, _ = await run(world, "--year", "2024", "--policy", str(draft_file), "--format",
                          "xlsx", "--output", str(book_path))  # fmt: skip
    assert code == 0 and "7 claims" in output
    book = load_workbook(book_path)
    assert book.sheetnames[:3] == ["Summary", "By claim type", "By hospital level"]
    cells = [[c.value for c in row] for row in book["Summary"].iter_rows()]
    assert ["Basic fund 390100", 182140, 182140, 189120, 6980] in [
        [float(v) if isinstance(v, int | float) else v for v in row[:5]] for row in cells
    ]

    code, _, page = await run(
        world, "--year", "2024", "--policy", str(draft_file), "--format", "html"
    )
    assert code == 0
    text = page.decode("utf-8")
    assert text.count("<svg") == 2 and "189,120.00" in text
    # Self-contained: no script, stylesheet, image or font fetched from anywhere.
    assert not re.search(r"<script|<link|<img|@import|url\(|src=", text)


async def test_the_command_refuses_by_name(world, tmp_path):
    await worked_examples(world)
    broken = tmp_path / "broken.toml"
    broken.write_text(edited(SOURCE, ("ratio = 0.65\n", "ratio = 6.5\n")), encoding="utf-8")
    code, output, _ = await run(world, "--year", "2024", "--policy", str(broken))
    assert code == 1
    assert "INVALID_POLICY" in output and "chronic_outpatient.ratio" in output
    code, output, _ = await run(world, "--year", "2031", "--policy", "liaocheng-2024")
    assert code == 1 and "NO_CLAIMS" in output and "2031" in output
    code, output, _ = await run(
        world, "--year", "2024", "--policy", "liaocheng-2024", "--region", "37x"
    )
    assert code == 1 and "INVALID_REQUEST" in output


@pytest.fixture
def staff(tmp_path):
    private, public = staff_tokens.ensure_key_pair(tmp_path / "keys")
    key = staff_tokens.load_private_key(private)
    return public, lambda role: staff_tokens.sign(key, f"someone.{role}", role)[0]


async def get(world, staff, draft_file, token_role: str | None, **params) -> httpx.Response:
    public, sign = staff
    settings = Settings(
        SETTLEMENT_DATABASE_URL=world.settlement.settings.database_url,
        SETTLEMENT_POLICY_DRAFTS=str(draft_file.parent),
        STAFF_TOKEN_PUBLIC_KEY_FILE=str(public),
    )
    app = create_app(settings)
    app.state.service, app.state.engine = world.service, world.engine  # what the lifespan sets
    headers = {"Authorization": f"Bearer {sign(token_role)}"} if token_role else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as http:
        return await http.get("/api/v1/ops/what-if", params=params, headers=headers)


async def test_staff_get_the_report_over_http(world, staff, draft_file):
    await worked_examples(world)
    draft = {"year": 2024, "policy": "liaocheng-2025-draft"}
    answer = await get(world, staff, draft_file, "city", **draft)
    assert answer.status_code == 200, answer.text
    assert answer.json()["totals"]["change"]["fund_pay_sumamt"] == "11417.50"
    book = await get(world, staff, draft_file, "auditor", **draft, format="xlsx")
    assert book.headers["content-disposition"].startswith("attachment")
    assert load_workbook(io.BytesIO(book.content)).sheetnames[0] == "Summary"
    page = await get(world, staff, draft_file, "admin", **draft, format="html")
    assert page.headers["content-type"].startswith("text/html") and b"<svg" in page.content


async def test_http_refusals_name_the_problem(world, staff, draft_file):
    await worked_examples(world)
    assert (await get(world, staff, draft_file, None, year=2024, policy="x")).status_code == 401
    town = await get(world, staff, draft_file, "tax", year=2024, policy="liaocheng-2024")
    assert town.status_code == 403
    draft_file.with_name("no-bands.toml").write_text(
        edited(SOURCE, ("{ from = 100000, ratio = 0.65 }", "{ from = 5000, ratio = 0.65 }")),
        encoding="utf-8",
    )
    for params, code, named in (
        ({"year": 2024, "policy": "no-bands"}, "INVALID_POLICY", "bands"),
        ({"year": 2024, "policy": "atlantis"}, "POLICY_NOT_FOUND", "atlantis"),
        ({"year": 2024, "policy": "../../etc/passwd"}, "POLICY_NOT_FOUND", "policy's name"),
        ({"year": 2030, "policy": "liaocheng-2024"}, "NO_CLAIMS", "2030"),
        ({"year": "next", "policy": "liaocheng-2024"}, "INVALID_REQUEST", "year"),
    ):
        answer = await get(world, staff, draft_file, "city", **params)
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == code and named in answer.json()["message"]
