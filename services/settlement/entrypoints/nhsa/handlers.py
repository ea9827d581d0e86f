"""One handler per ``infno``: the ``input`` read, the use case called, the ``output`` built.

A handler takes the call's context and the envelope's ``input`` and returns the ``output``;
a refusal is raised as a ``CodedError`` and the gateway writes it as ``infcode`` −1. An
``input`` of the wrong shape is ``INVALID_INPUT`` naming the field; a claim's own fields are
checked by the settlement service, with the HIS API's codes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.settlement.adapters.hospitals import Hospital
from services.settlement.engine.region import Region
from services.settlement.entrypoints.nhsa import outputs, reconcile
from services.settlement.entrypoints.nhsa.envelope import (
    MAX_INFNO,
    MAX_MSGID,
    Envelope,
    china_now,
)
from services.settlement.entrypoints.nhsa.inputs import (
    claim_of,
    data_of,
    day_of,
    invalid_input,
    text,
)
from services.settlement.service_layer.nhsa import NhsaService, Settlement


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler knows of its call."""

    gateway: NhsaService
    region: Region
    hospital: Hospital
    envelope: Envelope


Handler = Callable[[Call, dict[str, Any]], Awaitable[dict[str, Any]]]
ZH = "zh"  # the gateway's receipts are Chinese


async def sign_in(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """9001: the hospital's key already says who it is; the sign-in gives a session number."""
    sign_in_data = payload.get("signIn")
    if not isinstance(sign_in_data, dict):
        raise invalid_input("input.signIn: must be an object {opter_no, mac, ip}")
    moment = china_now()
    number = f"{call.hospital.code}{moment:%Y%m%d%H%M%S}{moment.microsecond:06d}"
    return {"signinoutb": {"sign_time": f"{moment:%Y-%m-%d %H:%M:%S}", "sign_no": number}}


async def person(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """1101: the person by resident ID (``mdtrt_cert_type`` 02) or by ``psn_no``."""
    data = data_of(payload)
    on = day_of(data, "begntime", required=False)
    psn_no = text(data, "psn_no", required=False)
    if psn_no:
        found = await call.gateway.person(psn_no=psn_no, on=on)
    else:
        cert_type = text(data, "mdtrt_cert_type")
        if cert_type != "02":
            raise invalid_input(
                f"input.data.mdtrt_cert_type: {cert_type} is not served here; send 02 (resident"
                " ID) or psn_no"
            )
        found = await call.gateway.person(certno=text(data, "mdtrt_cert_no"), on=on)
    return outputs.person(call.region, found)


async def preview(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """2303: the full result, nothing stored."""
    claim = claim_of(call.region, data_of(payload))
    document = await call.gateway.preview(call.hospital, claim, ZH)
    done = Settlement(document, None)
    return outputs.settlement(call.region, done, call.envelope.msgid)


async def settle(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """2304: settle once; ``msgid`` is the idempotency key."""
    claim = claim_of(call.region, data_of(payload))
    msgid = call.envelope.msgid
    done = await call.gateway.settle(call.hospital, msgid, claim, ZH)
    return outputs.settlement(call.region, done, msgid)


async def cancel(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """2305: reverse a settlement of this hospital."""
    data = data_of(payload)
    done = await call.gateway.cancel(
        call.hospital,
        call.envelope.msgid,
        text(data, "setl_id"),
        text(data, "psn_no", required=False),
    )
    return outputs.settlement(call.region, done, call.envelope.msgid, cancelled=True)


async def undo(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """2601: undo whatever ``omsgid`` did (nothing to undo is success)."""
    data = data_of(payload)
    # Both are written to the message log (its msgid and infno columns).
    omsgid = text(data, "omsgid", limit=MAX_MSGID)
    oinfno = text(data, "oinfno", required=False, limit=MAX_INFNO)
    undone = await call.gateway.undo(call.hospital, omsgid, oinfno, text(data, "psn_no"))
    return {
        "omsgid": omsgid,
        "oinfno": oinfno,
        "setl_id": undone.setl_id,
        "undone": "1" if undone.setl_id else "0",
    }


async def read(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """5203: a settlement as answered, with its status."""
    data = data_of(payload)
    setl_id = text(data, "setl_id")
    done = await call.gateway.read(call.hospital, setl_id, text(data, "psn_no", required=False))
    return outputs.settlement(call.region, done, None)


async def accumulations(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """5206: every accumulator of the year of ``cum_ym`` (default: this year)."""
    data = data_of(payload)
    cum_ym = text(data, "cum_ym", required=False) or f"{china_now():%Y%m}"
    if len(cum_ym) != 6 or not cum_ym.isdigit() or not 1 <= int(cum_ym[4:]) <= 12:
        raise invalid_input(f"input.data.cum_ym: {cum_ym} is not yyyyMM")
    year = int(cum_ym[:4])
    totals = await call.gateway.accumulations(text(data, "psn_no"), year)
    return outputs.accumulations(call.region, totals, year, cum_ym)


async def totals(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """3201: the hospital's totals of a period against ours."""
    data = data_of(payload)
    start, end = _period(data)
    ours = await call.gateway.statement(call.hospital, start, end)
    return reconcile.totals(call.region, ours, data)


async def lines(call: Call, payload: dict[str, Any]) -> dict[str, Any]:
    """3202: the hospital's lines of a period against ours, line by line."""
    data = data_of(payload)
    start, end = _period(data)
    ours = await call.gateway.statement(call.hospital, start, end)
    return reconcile.lines(call.region, ours, data)


def _period(data: dict[str, Any]) -> tuple[date, date]:
    start = day_of(data, "stmt_begndate")
    end = day_of(data, "stmt_enddate")
    if start is None or end is None or end < start:
        raise invalid_input("input.data.stmt_enddate: the period ends before it starts")
    return start, end


HANDLERS: dict[str, Handler] = {
    "9001": sign_in,
    "1101": person,
    "2303": preview,
    "2304": settle,
    "2305": cancel,
    "2601": undo,
    "5203": read,
    "5206": accumulations,
    "3201": totals,
    "3202": lines,
}
"""Every transaction the gateway serves, by ``infno``."""
