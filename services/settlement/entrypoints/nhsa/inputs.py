"""Reading the envelope's ``input``: its ``data`` object, text fields, dates and the claim.

A claim (2303/2304) is the HIS API's claim body once its platform codes are ours again: the
``med_type`` code through the region file, ``insutype`` checked to be the region's. Its other
fields go to the settlement service as sent, which checks them with the HIS API's codes
(``INVALID_REQUEST``, ``INVALID_AMOUNTS``, ``INVALID_DATES``) in the order of SPEC §5.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from services.settlement.engine.region import Region
from services.settlement.errors import InvalidRequest
from shared.text import CONTROL_CHARACTERS, PRINTABLE

CLAIM_FIELDS = (
    "psn_no",
    "mdtrt_id",
    "begntime",
    "endtime",
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "dise_codg",
)


_PRINTABLE = re.compile(PRINTABLE)


def invalid_input(message: str) -> InvalidRequest:
    return InvalidRequest("INVALID_INPUT", message)


def data_of(payload: dict[str, Any]) -> dict[str, Any]:
    """``input.data``, which must be an object."""
    data = payload.get("data")
    if not isinstance(data, dict):
        raise invalid_input("input.data: must be an object")
    return data


def text(
    data: dict[str, Any], name: str, *, required: bool = True, limit: int | None = None
) -> str:
    """A text field of ``data`` (a number is taken as its digits); "" when optional and absent.
    No control character (no store holds a NUL); at most ``limit`` characters when given (the
    column it is written to)."""
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        if required:
            raise invalid_input(f"input.data.{name}: field required")
        return ""
    if not isinstance(value, str):
        raise invalid_input(f"input.data.{name}: must be a string")
    if not _PRINTABLE.match(value):
        raise invalid_input(f"input.data.{name}: {CONTROL_CHARACTERS}")
    if limit is not None and len(value.strip()) > limit:
        raise invalid_input(f"input.data.{name}: longer than {limit} characters")
    return value.strip()


def day_of(data: dict[str, Any], name: str, *, required: bool = True) -> date | None:
    """A date field: "yyyy-MM-dd", "yyyyMMdd" or a date-time whose day is taken."""
    raw = text(data, name, required=required)
    if not raw:
        return None
    try:
        if len(raw) <= 10:
            return date.fromisoformat(raw)
        return datetime.fromisoformat(raw).date()
    except ValueError:
        raise invalid_input(f"input.data.{name}: {raw!r} is not a date") from None


def claim_of(region: Region, data: dict[str, Any]) -> dict[str, Any]:
    """The HIS API's claim body of a 2303/2304 ``data``."""
    insutype = text(data, "insutype", required=False)
    if insutype and insutype != region.insutype:
        raise invalid_input(
            f"input.data.insutype: {insutype} is not insured here (only {region.insutype})"
        )
    code = text(data, "med_type")
    med_type = region.med_type_named(code)
    if med_type is None:
        raise InvalidRequest(
            "INVALID_REQUEST", f"med_type: {code} is not a claim type of region {region.name}"
        )
    claim = {name: data[name] for name in CLAIM_FIELDS if name in data}
    claim["med_type"] = str(med_type)
    return claim
