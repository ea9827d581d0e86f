"""People and lists for the special persons' tests, built from events (no database)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time
from decimal import Decimal

from openpyxl import Workbook

from services.enrollment.adapters.premium_files import load_rules
from services.enrollment.domain import person as domain
from services.enrollment.domain.premiums import PremiumRules
from services.enrollment.domain.state import PersonState, then
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared.certno import check_character
from shared.events import Category, Channel, EventPayload, Identity, Payer, PremiumPaid

REGION = "450204"  # 柳南区


def rules_for(region: str, year: int) -> PremiumRules:
    return load_rules(PREMIUM_RULES_DIR, region, year)


def certno(n: int, born: str = "19500101") -> str:
    first17 = f"{REGION}{born}{n % 1000:03d}"
    return first17 + check_character(first17)


def at(day: date) -> datetime:
    return datetime.combine(day, time(9), UTC)


def registered(
    n: int,
    *,
    on: date,
    year: int,
    identity: Identity = Identity.ORDINARY,
    organization: str = "潭西街道",
    born: str = "19500101",
) -> PersonState:
    """A person registered for ``year`` on ``on``."""
    request = domain.Registration(
        certno=certno(n, born),
        name=f"居民{n}",
        category=Category.RESIDENT,
        region=REGION,
        organization=organization,
        insurance_year=year,
        identity=identity,
    )
    [payload] = domain.register(None, request, rules_for, on)
    blank = PersonState(
        psn_no=f"P{n}",
        version=0,
        certno=request.certno,
        name=request.name,
        gender=payload.gender,  # type: ignore[attr-defined]
        birth_date=payload.birth_date,  # type: ignore[attr-defined]
        identity=Identity.ORDINARY,
        medical_assistance=False,
    )
    return then(blank, [payload], at(on))


def paid(year: int, amount: str = "400.00", serial: str = "T1", *, on: date) -> PremiumPaid:
    return PremiumPaid(
        insurance_year=year,
        amount=Decimal(amount),
        payer=Payer.INDIVIDUAL,
        channel=Channel.WECHAT,
        tax_serial=serial,
        paid_at=at(on),
    )


def happen(state: PersonState, on: date, *payloads: EventPayload) -> PersonState:
    return then(state, list(payloads), at(on))


def xlsx(rows: list[list[object]], title: str | None = None) -> bytes:
    """A workbook as offices make them: a title merged across the columns above the header."""
    book = Workbook()
    sheet = book.active
    if title is not None:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
        sheet.append(["填报单位：柳南区残联", None, None, "填报日期：2023年12月1日"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
