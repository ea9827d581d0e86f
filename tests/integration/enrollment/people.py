"""Valid, distinct resident ID numbers for tests; those people registered from a school list, and
the tax bureau's payment messages for them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.enrollment.bootstrap import unit_of_work_factory as uow_for
from services.enrollment.domain.school_lists import parse_list
from services.enrollment.service_layer.school_lists import ImportBy, import_rows
from services.enrollment.settings import PREMIUM_RULES_DIR
from shared.certno import check_character

HEADER = "certno,name,category,organization,region,identity\n"


def unique_certno(n: int, region: str = "110105") -> str:
    """The n-th of many distinct valid certnos: born 2005-01-01 + n // 1000 days, sequence n."""
    born = (date(2005, 1, 1) + timedelta(days=n // 1000)).strftime("%Y%m%d")
    first17 = f"{region}{born}{n % 1000:03d}"
    return first17 + check_character(first17)


async def register(
    sessionmaker: Any,
    *numbers: int,
    identity: str = "",
    year: int = 2024,
    now: datetime = datetime(2024, 3, 1, tzinfo=UTC),
) -> None:
    """Students ``numbers`` (``unique_certno``) registered for ``year`` from one school list."""
    text = HEADER + "".join(
        f"{unique_certno(n)},学生{n},student,一中,110105,{identity}\n" for n in numbers
    )
    report = await import_rows(
        uow_for(sessionmaker),
        parse_list(text.encode()),
        year,
        PREMIUM_RULES_DIR,
        by=ImportBy.system(),
        now=now,
    )
    assert not report.errors


def payment_body(serial: str, n: int, amount: str, channel: str, **extra: Any) -> bytes:
    """The tax bureau's payment message for person ``n`` in 2024; ``extra`` adds fields."""
    body = {
        "tax_serial": serial,
        "certno": unique_certno(n),
        "insurance_year": 2024,
        "amount": amount,
        "payer": "individual",
        "channel": channel,
        "paid_at": "2024-03-02T10:00:00+08:00",
        **extra,
    }
    return json.dumps(body).encode()
