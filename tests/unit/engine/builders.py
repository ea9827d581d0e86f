"""Claims and hospitals for the engine's tests, written the way SPEC §5 states its examples."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from services.settlement.engine import Claim, HospitalProfile, MedType, Policy, load_policy

LIAOCHENG = load_policy("liaocheng-2024")
SPECIAL_PERSONS = Policy.from_file(Path(__file__).with_name("special-persons.toml"))

LEVEL_1 = HospitalProfile(level=1)
LEVEL_1_PUBLIC = HospitalProfile(level=1, public=True)
LEVEL_2 = HospitalProfile(level=2)
LEVEL_3 = HospitalProfile(level=3)
CLINIC = HospitalProfile(level=1, public=True, primary_care=True)


def claim(
    med_type: MedType | str,
    total: str | int,
    wholly_self_paid: str | int = "0",
    over_limit: str | int = "0",
    class_b: str | int = "0",
    *,
    dise_codg: str | None = None,
    begntime: str = "2024-03-01T08:00:00",
    endtime: str | None = None,
    psn_no: str = "P0001",
    mdtrt_id: str = "M0001",
) -> Claim:
    """A claim of the year 2024 with amounts as the hospital sends them."""
    return Claim(
        psn_no=psn_no,
        mdtrt_id=mdtrt_id,
        med_type=MedType(med_type),
        begntime=begntime,  # type: ignore[arg-type]
        endtime=endtime or begntime,  # type: ignore[arg-type]
        medfee_sumamt=Decimal(str(total)),
        fulamt_ownpay_amt=Decimal(str(wholly_self_paid)),
        overlmt_selfpay=Decimal(str(over_limit)),
        preselfpay_amt=Decimal(str(class_b)),
        dise_codg=dise_codg,
    )


def inpatient(total: str | int, wholly_self_paid: str | int = "0", **kw: object) -> Claim:
    return claim(MedType.INPATIENT, total, wholly_self_paid, **kw)  # type: ignore[arg-type]


def chronic(total: str | int, dise_codg: str = "C34.901", **kw: object) -> Claim:
    return claim(MedType.CHRONIC_OUTPATIENT, total, dise_codg=dise_codg, **kw)  # type: ignore[arg-type]


def general(total: str | int, **kw: object) -> Claim:
    return claim(MedType.GENERAL_OUTPATIENT, total, **kw)  # type: ignore[arg-type]


def accident(total: str | int, **kw: object) -> Claim:
    return claim(MedType.ACCIDENT_OUTPATIENT, total, **kw)  # type: ignore[arg-type]


def yuan(text: str | int) -> Decimal:
    return Decimal(str(text))
