"""Our answers in the platform's fields and codes (the mapping table is docs/nhsa-gateway.md).

The codes come from the region file (``engine/region.py``): ``med_type``, ``fund_pay_type`` and
its name, ``psn_type``, ``psn_idet_type``, ``psn_insu_stas``, ``cum_type_code``, ``insutype``.
Amounts stay two-decimal strings, as the HIS API answers them; times are China time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.settlement.engine.accumulator import Accumulator
from services.settlement.engine.region import Region
from services.settlement.engine.result import ASSISTANCE_FUND, BASIC_FUND, CATASTROPHIC_FUND
from services.settlement.service_layer.nhsa import Person, Settlement, identity_spells
from shared import certno as certnos
from shared.money import ZERO, fen_text

CHINA = timedelta(hours=8)
RESULT_FIELDS = (
    "setl_id",
    "psn_no",
    "mdtrt_id",
    "insurance_year",
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
)
SIGNED = RESULT_FIELDS[4:]  # the amounts, negated on a cancel
_ENGINE_FUNDS = {BASIC_FUND: "hifp_pay", CATASTROPHIC_FUND: "hifmi_pay", ASSISTANCE_FUND: "maf_pay"}
PSN_CERT_TYPE = "01"  # 居民身份证（户口簿）
GENDER = {"male": "1", "female": "2"}  # GB/T 2261.1


def wall_time(moment: datetime | None) -> str | None:
    """An instant as the platform's "yyyy-MM-dd HH:mm:ss" in China time."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{(moment.astimezone(UTC) + CHINA):%Y-%m-%d %H:%M:%S}"


def settlement(
    region: Region, done: Settlement, msgid: str | None, *, cancelled: bool = False
) -> dict[str, Any]:
    """``setlinfo`` and ``setldetail`` of a settlement (2303, 2304, 5203) or its cancel (2305,
    amounts negated)."""
    document = done.document
    info: dict[str, Any] = {name: document[name] for name in RESULT_FIELDS}
    info.update(
        med_type=region.med_type_code(document["med_type"]),
        insutype=region.insutype,
        setl_time=wall_time(done.reversed_at if cancelled else done.settled_at),
        medins_setl_id=msgid,
        psn_cash_pay=document["psn_part_amt"],
        acct_pay="0.00",
        balc="0.00",
        refd_setl_flag="1" if done.reversed_at is not None else "0",
        setl_proc_info=document["setl_proc_info"],
    )
    if "accumulators" in document:
        info["accumulators"] = document["accumulators"]
    details = fund_rows(region, document)
    if cancelled:
        info.update({name: _negated(info[name]) for name in (*SIGNED, "psn_cash_pay")})
        for row in details:
            row["fund_payamt"] = _negated(row["fund_payamt"])
            row["inscp_scp_amt"] = _negated(row["inscp_scp_amt"])
    return {"setlinfo": info, "setldetail": details}


def _negated(amount: str) -> str:
    return fen_text(ZERO - Decimal(amount))


def fund_rows(region: Region, document: dict[str, Any]) -> list[dict[str, Any]]:
    """``setldetail``: one row per fund of the waterfall, each with its receipt lines (the
    basic fund's row also carries the lines before it: the policy-scope amount, deductible)."""
    lines: list[str] = document["setl_proc_info"]
    rows = []
    for detail in document["setldetail"]:
        engine_code = detail["fund_pay_type"]
        fund = region.fund(_ENGINE_FUNDS[engine_code])
        mine = [index for index, line in enumerate(lines) if engine_code in line]
        if engine_code == BASIC_FUND and mine:
            mine = list(range(mine[0] + 1))
        rows.append(
            {
                "fund_pay_type": fund.code,
                "fund_pay_type_name": fund.name,
                "inscp_scp_amt": document["inscp_scp_amt"],
                "fund_payamt": detail["fund_payamt"],
                "setl_proc_info": "；".join(lines[i] for i in mine),
            }
        )
    return rows


def person(region: Region, found: Person) -> dict[str, Any]:
    """1101's ``baseinfo``, ``insuinfo`` and ``idetinfo``."""
    state, coverage = found.state, found.coverage
    baseinfo: dict[str, Any] = {"psn_no": state.psn_no, "psn_cert_type": PSN_CERT_TYPE}
    baseinfo.update(certno=state.certno, psn_name=state.name or "")
    try:
        card = certnos.parse(state.certno or "", today=found.on)
    except certnos.InvalidCertno:
        baseinfo.update(gend=None, brdy=None, age=None)
    else:
        baseinfo.update(
            gend=GENDER[card.gender],
            brdy=card.birth_date.isoformat(),
            age=_age(card.birth_date, found.on),
        )
    status = _insurance_state(region, coverage)
    year = found.on.year
    cover = state.years.get(year)
    insuinfo = []
    if cover is not None and cover.registered:
        insuinfo.append(
            {
                "insutype": region.insutype,
                "psn_type": region.psn_type.get(state.category or "", ""),
                "psn_insu_stas": status,
                "psn_insu_date": date(year, 1, 1).isoformat(),
                "paus_insu_date": coverage.get("date_of_death"),
                "insuplc_admdvs": region.admdvs,
            }
        )
    idetinfo = [
        {
            "psn_idet_type": region.psn_idet_type[spell.identity],
            "begntime": spell.start.isoformat(),
            "endtime": spell.end.isoformat() if spell.end else None,
        }
        for spell in identity_spells(state)
        if spell.identity in region.psn_idet_type
    ]
    return {"baseinfo": baseinfo, "insuinfo": insuinfo, "idetinfo": idetinfo}


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _insurance_state(region: Region, coverage: dict[str, Any]) -> str:
    """Insured while eligible; terminated by death; paused otherwise (not registered or not
    paid for the year)."""
    states = region.psn_insu_stas
    if coverage.get("date_of_death"):
        return states.terminated
    return states.insured if coverage.get("eligible") else states.paused


def accumulations(region: Region, totals: Accumulator, year: int, cum_ym: str) -> dict[str, Any]:
    """5206's ``cuminfo``: one row per accumulator of SPEC §5."""
    rows = []
    for name, value in totals._asdict().items():
        rows.append(
            {
                "insutype": region.insutype,
                "year": str(year),
                "cum_ym": cum_ym,
                "cum_type_code": region.cum_type_code[name],
                "cum": fen_text(Decimal(value)),
            }
        )
    return {"cuminfo": rows}
