"""Sample enrollment events of a person and claim bodies, as enrollment and a HIS would send them
(tests, bench)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shared.certno import check_character
from shared.events import (
    Category,
    Channel,
    DeceasedStop,
    Event,
    EventPayload,
    Gender,
    Identity,
    IdentityChanged,
    Payer,
    PremiumPaid,
    Registered,
)


def certno(seq: int, born: date = date(2010, 5, 17)) -> str:
    """A valid resident ID number, distinct for each ``seq`` (0–999)."""
    first17 = f"371502{born:%Y%m%d}{seq % 1000:03d}"
    return first17 + check_character(first17)


class Stream:
    """One person's event stream; each call appends the next version."""

    def __init__(self, psn_no: str | None = None) -> None:
        self.psn_no = psn_no or f"P{uuid.uuid4().hex[:16]}"
        self.version = 0

    def next(
        self, payload: EventPayload, occurred_at: datetime | None = None, actor: str = "system"
    ) -> Event:
        self.version += 1
        return Event.new(
            payload,
            psn_no=self.psn_no,
            stream_version=self.version,
            occurred_at=occurred_at or datetime(2023, 10, 1, tzinfo=UTC),
            actor=actor,
        )

    def registered(
        self,
        year: int = 2024,
        premium_due: str = "360.00",
        identity: Identity = Identity.ORDINARY,
        seq: int = 1,
        region: str = "371502",
    ) -> Event:
        return self.next(
            Registered(
                certno=certno(seq),
                name="张三",
                gender=Gender.MALE,
                birth_date=date(2010, 5, 17),
                category=Category.STUDENT,
                identity=identity,
                region=region,
                organization="聊城市第一中学",
                insurance_year=year,
                premium_due=Decimal(premium_due),
            )
        )

    def paid(self, year: int = 2024, amount: str = "360.00", serial: str | None = None) -> Event:
        return self.next(
            PremiumPaid(
                insurance_year=year,
                amount=Decimal(amount),
                payer=Payer.INDIVIDUAL,
                channel=Channel.WECHAT,
                tax_serial=serial or uuid.uuid4().hex,
                paid_at=datetime(2023, 11, 1, tzinfo=UTC),
            )
        )

    def identity(self, identity: Identity, effective_from: date, assistance: bool = False) -> Event:
        return self.next(
            IdentityChanged(
                identity=identity,
                medical_assistance=assistance,
                effective_from=effective_from,
                reason="civil affairs list",
            )
        )

    def died(self, on: date, deadline: date) -> Event:
        return self.next(DeceasedStop(date_of_death=on, settlement_deadline=deadline))


def claim(
    psn_no: str,
    *,
    mdtrt_id: str | None = None,
    med_type: str = "inpatient",
    begntime: str = "2024-03-01T08:00:00",
    endtime: str = "2024-03-10T10:00:00",
    total: str = "20000.00",
    wholly: str = "1000.00",
    over: str = "0.00",
    class_b: str = "500.00",
    dise_codg: str | None = None,
) -> dict[str, str | None]:
    """A SPEC §6 claim body (defaults: worked example 1 of SPEC §5)."""
    return {
        "psn_no": psn_no,
        "mdtrt_id": mdtrt_id or f"V{uuid.uuid4().hex[:12]}",
        "med_type": med_type,
        "begntime": begntime,
        "endtime": endtime,
        "medfee_sumamt": total,
        "fulamt_ownpay_amt": wholly,
        "overlmt_selfpay": over,
        "preselfpay_amt": class_b,
        "dise_codg": dise_codg,
    }


def wang_fang(**fields: Any) -> Registered:
    """王芳's registration for 2024 (a resident born on 31 December 1949), the unit tests' usual
    person; ``fields`` replace any of its values (each test says what it varies)."""
    values: dict[str, Any] = {
        "certno": "11010519491231002X",
        "name": "王芳",
        "gender": "female",
        "birth_date": date(1949, 12, 31),
        "category": "resident",
        "region": "110105",
        "organization": "朝阳街道",
        "insurance_year": 2024,
        "premium_due": Decimal("400.00"),
    }
    return Registered(**(values | fields))
