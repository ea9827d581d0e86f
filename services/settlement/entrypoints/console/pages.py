"""The settlement console's money pages: overview, settlements, fund payouts, refusals, burden.

Each page reads its figures from the summary tables (``adapters.console_figures``), draws its
charts on the server (``shared.console.svg``) and pages and sorts its tables on the server.
Odd parameters never fail a page: they are replaced and the page says so.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from services.settlement.adapters import console_figures as figures
from services.settlement.adapters.console_figures import Totals
from services.settlement.entrypoints.api.staff_auth import OpsAction
from services.settlement.entrypoints.console.auth import viewer_for
from services.settlement.entrypoints.console.site import fresh_summary, fund_names, page, yuan
from shared.china_time import china_today
from shared.console import svg
from shared.console.labels import translate
from shared.console.params import Column, next_month, page_of, read_month, read_table, read_year
from shared.console.web import Viewer, language

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(viewer_for(OpsAction.READ))]

HOSPITAL_COLUMNS = (
    Column("code", "col.hospital_code"),
    Column("name", "col.hospital"),
    Column("level", "col.level", figure=True),
    Column("settlements", "col.settlements", figure=True),
    Column("reversals", "col.reversals", figure=True),
    Column("medfee_sumamt", "col.medfee", figure=True),
    Column("fund_pay_sumamt", "col.fund_paid", figure=True),
    Column("hifp_pay", "fund.basic", figure=True),
    Column("hifmi_pay", "fund.catastrophic", figure=True),
    Column("maf_pay", "fund.assistance", figure=True),
    Column("psn_part_amt", "col.patients_paid", figure=True),
)
REFUSAL_COLUMNS = (
    Column("hospital", "col.hospital_code"),
    Column("code", "col.code"),
    Column("count", "col.refusals", figure=True),
)


def _days(first: date) -> list[date]:
    end = next_month(first)
    return [first + timedelta(days=n) for n in range((end - first).days)]


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


@router.get("/console")
async def overview(request: Request, viewer: Reader) -> HTMLResponse:
    """Today and this month at a glance, and the pipeline's state."""
    notes = await fresh_summary(request)
    engine = request.app.state.engine
    today = china_today()
    first = today.replace(day=1)
    days = await figures.per_day(engine, first, next_month(first))
    month = Totals()
    for totals in days.values():
        month.settlements += totals.settlements
        month.reversals += totals.reversals
        for name, amount in totals.amounts.items():
            month.amounts[name] += amount
    refused = await figures.refusals(engine, today, today + timedelta(days=1))
    pipeline = await figures.pipeline(engine)
    t = _translator(request)
    chart = svg.column_chart(
        [str(d.day) for d in _days(first)],
        [
            svg.Series(
                t("col.settlements"), [days.get(d, Totals()).settlements for d in _days(first)]
            )
        ],
        title=t("chart.settlements_per_day", month=first.strftime("%Y-%m")),
        empty=t("chart.empty"),
    )
    return page(
        request,
        "overview",
        viewer,
        notes,
        today=days.get(today, Totals()),
        month=month,
        refused=sum(r["count"] for r in refused),
        pipeline=pipeline,
        chart=chart,
    )


@router.get("/console/settlements")
async def settlements(request: Request, viewer: Reader) -> HTMLResponse:
    """A month's settlements per day and per hospital."""
    notes = await fresh_summary(request)
    first, more = read_month(request.query_params.get("month"), china_today())
    table, more2 = read_table(
        _params(request), HOSPITAL_COLUMNS, default_sort="fund_pay_sumamt", descending=True
    )
    engine = request.app.state.engine
    days = await figures.per_day(engine, first, next_month(first))
    hospitals = await figures.per_hospital(engine, first, next_month(first))
    rows = [h.row() for h in hospitals]
    shown, more3 = page_of(rows, table)
    t = _translator(request)
    span = _days(first)
    per_day = svg.column_chart(
        [str(d.day) for d in span],
        [
            svg.Series(t("col.settlements"), [days.get(d, Totals()).settlements for d in span]),
            svg.Series(t("col.reversals"), [days.get(d, Totals()).reversals for d in span]),
        ],
        title=t("chart.settlements_per_day", month=first.strftime("%Y-%m")),
        empty=t("chart.empty"),
    )
    ranked = sorted(rows, key=lambda r: r["fund_pay_sumamt"], reverse=True)[:15]
    per_hospital = svg.bar_list(
        [(f"{r['code']} {r['name']}", r["fund_pay_sumamt"]) for r in ranked],
        title=t("chart.fund_per_hospital", month=first.strftime("%Y-%m")),
        fmt=yuan,
        empty=t("chart.empty"),
    )
    return page(
        request,
        "settlements",
        viewer,
        [*notes, *more, *more2, *more3],
        month=first,
        charts=[per_day, per_hospital],
        table=shown,
        columns=HOSPITAL_COLUMNS,
    )


@router.get("/console/funds")
async def funds(request: Request, viewer: Reader) -> HTMLResponse:
    """What each fund paid per day of a month, and cumulated over its year."""
    notes = await fresh_summary(request)
    today = china_today()
    first, more = read_month(request.query_params.get("month"), today)
    engine = request.app.state.engine
    january = date(first.year, 1, 1)
    year = await figures.per_day(engine, january, date(first.year + 1, 1, 1))
    t = _translator(request)
    names = fund_names()
    span = _days(first)
    per_day = svg.column_chart(
        [str(d.day) for d in span],
        [svg.Series(t(label), [_amount(year, d, field) for d in span]) for field, label in names],
        title=t("chart.funds_per_day", month=first.strftime("%Y-%m")),
        stacked=True,
        fmt=yuan,
        empty=t("chart.empty"),
    )
    month_end = next_month(first) - timedelta(days=1)
    last = month_end if today < first else min(month_end, today)  # no line into the future
    whole = [january + timedelta(days=n) for n in range((last - january).days + 1)]
    cumulated = svg.line_chart(
        [d.strftime("%m-%d") for d in whole],
        [svg.Series(t(label), _running(year, whole, field)) for field, label in names],
        title=t("chart.funds_cumulated", year=first.year),
        fmt=yuan,
        empty=t("chart.empty"),
    )
    months = _per_month(year, first.year)
    return page(
        request,
        "funds",
        viewer,
        [*notes, *more],
        month=first,
        charts=[per_day, cumulated],
        months=months,
        funds=names,
    )


@router.get("/console/refusals")
async def refusals(request: Request, viewer: Reader) -> HTMLResponse:
    """A month's refused settlements per code and per hospital."""
    first, notes = read_month(request.query_params.get("month"), china_today())
    table, more = read_table(
        _params(request), REFUSAL_COLUMNS, default_sort="count", descending=True
    )
    rows = await figures.refusals(request.app.state.engine, first, next_month(first))
    per_code: dict[str, int] = {}
    for row in rows:
        per_code[row["code"]] = per_code.get(row["code"], 0) + row["count"]
    shown, more2 = page_of(rows, table)
    t = _translator(request)
    chart = svg.bar_list(
        sorted(per_code.items(), key=lambda item: item[1], reverse=True),
        title=t("chart.refusals_per_code", month=first.strftime("%Y-%m")),
        empty=t("chart.empty"),
    )
    return page(
        request,
        "refusals",
        viewer,
        [*notes, *more, *more2],
        month=first,
        chart=chart,
        total=sum(per_code.values()),
        table=shown,
        columns=REFUSAL_COLUMNS,
    )


@router.get("/console/catastrophic")
async def catastrophic(request: Request, viewer: Reader) -> HTMLResponse:
    """How many persons stand in each band of the catastrophic burden this year."""
    year, notes = read_year(request.query_params.get("year"), china_today().year)
    starts = _band_starts(request, year)
    counts = await figures.burden_bands(request.app.state.engine, year, starts)
    t = _translator(request)
    bands = [(t("band.below", limit=yuan(starts[0])), None, starts[0], counts[0])]
    for index, start in enumerate(starts):
        upper = starts[index + 1] if index + 1 < len(starts) else None
        name = (
            t("band.between", low=yuan(start), high=yuan(upper))
            if upper is not None
            else t("band.above", low=yuan(start))
        )
        bands.append((name, start, upper, counts[index + 1]))
    chart = svg.bar_list(
        [(name, persons) for name, _, _, persons in bands],
        title=t("chart.burden_bands", year=year),
        empty=t("chart.empty"),
    )
    return page(
        request,
        "catastrophic",
        viewer,
        notes,
        year=year,
        chart=chart,
        bands=bands,
        persons=sum(counts),
    )


def _translator(request: Request) -> Any:
    lang = language(request)
    return lambda key, **args: translate(lang, key, **args)


def _amount(days: dict[date, Totals], day: date, field: str) -> Decimal:
    totals = days.get(day)
    return totals.amounts[field] if totals else Decimal("0.00")


def _running(days: dict[date, Totals], span: list[date], field: str) -> list[Decimal]:
    total, running = Decimal("0.00"), []
    for day in span:
        total += _amount(days, day, field)
        running.append(total)
    return running


def _per_month(days: dict[date, Totals], year: int) -> list[dict[str, Any]]:
    months = []
    for month in range(1, 13):
        row: dict[str, Any] = {"month": f"{year}-{month:02d}"}
        for field, _ in fund_names():
            row[field] = sum(
                (t.amounts[field] for d, t in days.items() if d.month == month), Decimal("0.00")
            )
        row["total"] = sum((row[field] for field, _ in fund_names()), Decimal("0.00"))
        months.append(row)
    return months


def _band_starts(request: Request, year: int) -> list[Decimal]:
    """The catastrophic band starts of the policy in force for ``year`` (the first one of the
    registry when several regions have their own)."""
    registry = request.app.state.service.policies
    policy = registry.find(None, year) or registry.policies[0]
    return [Decimal(band.start) for band in policy.catastrophic.bands]
