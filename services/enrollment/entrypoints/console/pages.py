"""The enrollment console's figures: overview, registrations, premium collection, special persons.

Every figure is read inside the viewer's scope (a district sees its region, a town its
organization); charts are drawn on the server, tables paged and sorted on the server, and an
odd parameter is replaced with a note, never a failed page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from services.enrollment.adapters import console_figures as figures
from services.enrollment.adapters.relay import relay_status
from services.enrollment.domain.access import Caller, Scope
from services.enrollment.domain.staff import Action
from services.enrollment.entrypoints.console.auth import viewer_for
from services.enrollment.entrypoints.console.site import allowed, fresh_sums, page
from shared.china_time import china_today
from shared.console import svg
from shared.console.labels import translate
from shared.console.params import Column, page_of, read_choice, read_table, read_year
from shared.console.web import Viewer, language
from shared.events import Category
from shared.money import ZERO

router = APIRouter(include_in_schema=False)
Reports = Annotated[Viewer, Depends(viewer_for(Action.READ_REPORTS))]
Anyone = Annotated[Viewer, Depends(viewer_for(Action.READ_REPORTS, Action.READ_UNMATCHED))]

CATEGORIES = tuple(c.value for c in Category)
REGISTRATION_COLUMNS = (
    Column("insurance_year", "col.year"),
    *(Column(c, f"category.{c}", figure=True) for c in CATEGORIES),
    Column("total", "col.total", figure=True),
)
COLLECTION_COLUMNS = (
    Column("organization", "col.organization"),
    Column("people", "col.people", figure=True),
    Column("due", "col.due", figure=True),
    Column("paid", "col.paid", figure=True),
    Column("outstanding", "col.outstanding", figure=True),
    Column("covered", "col.covered", figure=True),
    Column("rate", "col.rate", figure=True),
)


def scope_of(request: Request) -> Scope:
    """The viewer's scope (the staff member ``viewer_for`` put on the request)."""
    return Caller.of(request.state.staff).scope


def _t(request: Request) -> Any:
    lang = language(request)
    return lambda key, **args: translate(lang, key, **args)


def _today_year() -> int:
    return china_today().year


@router.get("/console")
async def overview(request: Request, viewer: Anyone) -> HTMLResponse:
    """The year at a glance: registrations, collection, unmatched payments, the relay."""
    scope = scope_of(request)
    notes = await fresh_sums(request)
    cards: list[tuple[str, str, str]] = []
    t = _t(request)
    async with request.app.state.sessionmaker() as session:
        if allowed(viewer, Action.READ_REPORTS):
            known = await figures.years(session, scope)
            year = known[0] if known else _today_year()
            lines = await figures.collection(session, year, scope)
            due = sum((c.due for c in lines), ZERO)
            paid = sum((c.paid for c in lines), ZERO)
            people = sum(c.people for c in lines)
            cards += [
                (t("card.registered", year=year), f"{people:,}", "/console/registrations"),
                (t("card.due", year=year), f"{due:,.2f}", "/console/collection"),
                (t("card.paid", year=year), f"{paid:,.2f}", "/console/collection"),
            ]
            special = sum((await figures.special_by_identity(session, scope)).values())
            cards.append((t("card.special"), f"{special:,}", "/console/special"))
        if allowed(viewer, Action.READ_UNMATCHED) and scope.everything:
            waiting = sum((await figures.unmatched_reasons(session, False)).values())
            cards.append((t("card.unmatched"), f"{waiting:,}", "/console/unmatched"))
    if allowed(viewer, Action.READ_REPORTS):
        relay = await relay_status(request.app.state.sessionmaker)
        cards.append((t("card.relay_backlog"), f"{relay['backlog']:,}", "/console/relay"))
    return page(request, "overview", viewer, notes, cards=cards)


@router.get("/console/registrations")
async def registrations(request: Request, viewer: Reports) -> HTMLResponse:
    """People registered per year and category."""
    fresh = await fresh_sums(request)
    table, notes = read_table(
        dict(request.query_params),
        REGISTRATION_COLUMNS,
        default_sort="insurance_year",
        descending=True,
    )
    async with request.app.state.sessionmaker() as session:
        counted = await figures.registrations_by_category(session, scope_of(request))
    rows: dict[int, dict[str, Any]] = {}
    for item in counted:
        row = rows.setdefault(
            int(item["insurance_year"]),
            {"insurance_year": int(item["insurance_year"]), **dict.fromkeys(CATEGORIES, 0)},
        )
        row[str(item["category"])] = row.get(str(item["category"]), 0) + int(item["people"])
    for row in rows.values():
        row["total"] = sum(row[c] for c in CATEGORIES)
    ordered = sorted(rows)
    t = _t(request)
    chart = svg.column_chart(
        [str(year) for year in ordered],
        [svg.Series(t(f"category.{c}"), [rows[y][c] for y in ordered]) for c in CATEGORIES],
        title=t("chart.registrations"),
        stacked=True,
        empty=t("chart.empty"),
    )
    shown, more = page_of(list(rows.values()), table)
    return page(
        request,
        "registrations",
        viewer,
        [*fresh, *notes, *more],
        chart=chart,
        table=shown,
        columns=REGISTRATION_COLUMNS,
    )


@router.get("/console/collection")
async def collection(request: Request, viewer: Reports) -> HTMLResponse:
    """Premium collection against what is due, per organization, and by week."""
    scope = scope_of(request)
    fresh = await fresh_sums(request)
    async with request.app.state.sessionmaker() as session:
        known = await figures.years(session, scope)
        year, notes = read_year(
            request.query_params.get("year"), known[0] if known else _today_year()
        )
        lines = await figures.collection(session, year, scope)
        names = sorted(c.organization for c in lines)
        organization, more = read_choice(
            request.query_params.get("organization"), names, "", "organization"
        )
        daily = await figures.paid_per_day(session, year, scope, organization or None)
    table, more2 = read_table(
        dict(request.query_params), COLLECTION_COLUMNS, default_sort="organization"
    )
    shown, more3 = page_of([c.row() for c in lines], table)
    chosen = [c for c in lines if not organization or c.organization == organization]
    due = sum((c.due for c in chosen), ZERO)
    chart = _weekly_chart(_t(request), daily, due, year, organization)
    return page(
        request,
        "collection",
        viewer,
        [*fresh, *notes, *more, *more2, *more3],
        year=year,
        years=known or [year],
        organization=organization,
        organizations=names,
        chart=chart,
        table=shown,
        columns=COLLECTION_COLUMNS,
    )


def _weekly_chart(
    t: Any, daily: dict[date, Decimal], due: Decimal, year: int, organization: str
) -> str:
    """Paid, cumulated week by week (weeks from Monday), against the whole year's due."""
    title = t("chart.collection", year=year, organization=organization or t("form.all"))
    if not daily:
        return svg.line_chart([], [], title=title, empty=t("chart.empty"))
    first = min(daily) - timedelta(days=min(daily).weekday())
    weeks: list[date] = []
    week = first
    while week <= max(daily):
        weeks.append(week)
        week += timedelta(days=7)
    running, paid = ZERO, []
    for start in weeks:
        running += sum((v for d, v in daily.items() if start <= d < start + timedelta(7)), ZERO)
        paid.append(running)
    return svg.line_chart(
        [w.strftime("%m-%d") for w in weeks],
        [svg.Series(t("col.paid"), paid), svg.Series(t("col.due"), [due] * len(weeks))],
        title=title,
        fmt=lambda v: f"{v:,.2f}",
        empty=t("chart.empty"),
    )


@router.get("/console/special")
async def special(request: Request, viewer: Reports) -> HTMLResponse:
    """Special persons per identity; the carry-over and monthly assistance lists' status."""
    fresh = await fresh_sums(request)
    async with request.app.state.sessionmaker() as session:
        identities = await figures.special_by_identity(session, scope_of(request))
        statuses: Sequence[Any] = ()
        lists: Sequence[Any] = ()
        uploads: Sequence[Any] = ()
        if allowed(viewer, Action.READ_CARRY_OVER):
            statuses, lists = await figures.carry_over(session)
            uploads = await figures.assistance(session)
    t = _t(request)
    ranked = sorted(identities.items(), key=lambda item: item[1], reverse=True)
    chart = svg.bar_list(
        [(t(f"identity.{name}"), people) for name, people in ranked],
        title=t("chart.special"),
        empty=t("chart.empty"),
    )
    return page(
        request,
        "special",
        viewer,
        fresh,
        chart=chart,
        identities=ranked,
        total=sum(identities.values()),
        show_lists=allowed(viewer, Action.READ_CARRY_OVER),
        statuses=statuses,
        lists=lists,
        uploads=uploads,
    )
