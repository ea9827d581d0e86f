"""3201 and 3202 in the platform's words: the hospital's figures read, ours named in Chinese.

The hospital's lines of 3202 come inline (``data.details``, a list of objects) or as the text of
its detail file (``data.file``: CSV with a header row of the same field names, UTF-8). A
reversal line has ``refd_setl_flag`` "1" and negative amounts.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from services.settlement.engine.region import Region
from services.settlement.entrypoints.nhsa.inputs import invalid_input, text
from services.settlement.service_layer.reconciliation import (
    DifferenceKind,
    HospitalLine,
    HospitalTotals,
    check_lines,
    check_totals,
)
from services.settlement.service_layer.statements import Statement, Totals
from shared.money import parse_amount

MAX_LINES = 200_000  # one hospital's month, with room; a larger upload is a mistake
KIND = {
    DifferenceKind.MISSING_HERE: ("1", "医保方无此结算"),
    DifferenceKind.MISSING_THERE: ("2", "医院方无此结算"),
    DifferenceKind.AMOUNTS_DIFFER: ("3", "金额不符"),
}
FIGURE_NAMES = {
    "fixmedins_setl_cnt": "结算笔数",
    "medfee_sumamt": "医疗费总额",
    "fund_pay_sumamt": "基金支付总额",
    "acct_pay": "个人账户支付",
}


def _amount(data: dict[str, Any], name: str, where: str = "input.data") -> Decimal:
    value = data.get(name, "0")
    try:
        return parse_amount(value if value not in (None, "") else "0")
    except ValueError as exc:
        raise invalid_input(f"{where}.{name}: {exc}") from None


def _ours(region: Region, statement: Statement, clr_type: str) -> Totals:
    return statement.of_med_types(region.clearing_med_types(clr_type))


def _figures(totals: Totals) -> str:
    return (
        f"结算 {totals.count} 笔，医疗费总额 {totals.medfee_sumamt:.2f} 元，"
        f"基金支付 {totals.fund_pay_sumamt:.2f} 元，个人账户支付 0.00 元"
    )


def totals(region: Region, statement: Statement, data: dict[str, Any]) -> dict[str, Any]:
    """3201's ``stmtinfo``: "0" agrees, "1" differs, our figures named either way."""
    count = text(data, "fixmedins_setl_cnt")
    if not count.lstrip("-").isdigit():
        raise invalid_input(f"input.data.fixmedins_setl_cnt: {count} is not a count")
    theirs = HospitalTotals(
        int(count),
        _amount(data, "medfee_sumamt"),
        _amount(data, "fund_pay_sumamt"),
        _amount(data, "acct_pay"),
    )
    check = check_totals(_ours(region, statement, text(data, "clr_type", required=False)), theirs)
    period = f"{statement.start.isoformat()} 至 {statement.end.isoformat()}"
    if check.agrees:
        description = f"对账一致：{period} 医保方{_figures(check.ours)}"
    else:
        named = "；".join(
            f"{FIGURE_NAMES[name]} 医保方 {ours} / 医院方 {their}"
            for name, ours, their in check.differences
        )
        description = f"对账不一致：{period} 医保方{_figures(check.ours)}。不符：{named}"
    return {
        "stmtinfo": {
            "setl_optins": text(data, "setl_optins", required=False) or region.admdvs,
            "stmt_rslt": "0" if check.agrees else "1",
            "stmt_rslt_dscr": description,
        }
    }


def lines(region: Region, statement: Statement, data: dict[str, Any]) -> dict[str, Any]:
    """3202: one row per difference, and the period's result."""
    theirs = [_line(row, index) for index, row in enumerate(_rows(data))]
    differences = check_lines(statement.lines, theirs)
    rows = []
    for difference in differences:
        code, name = KIND[difference.kind]
        row: dict[str, Any] = {
            "setl_id": difference.setl_id,
            "mdtrt_id": difference.mdtrt_id,
            "psn_no": difference.psn_no,
            "refd_setl_flag": "1" if difference.reversal else "0",
            "stmt_rslt": code,
            "stmt_rslt_dscr": name,
        }
        for side, amounts in (("medins", difference.ours), ("fixmedins", difference.theirs)):
            for field in ("medfee_sumamt", "fund_pay_sumamt"):
                row[f"{side}_{field}"] = None if amounts is None else f"{amounts[field]:.2f}"
        rows.append(row)
    period = f"{statement.start.isoformat()} 至 {statement.end.isoformat()}"
    summary = (
        f"明细对账一致：{period} 医保方 {len(statement.lines)} 条明细"
        if not rows
        else f"明细对账不一致：{period} 医保方 {len(statement.lines)} 条明细，"
        f"医院方 {len(theirs)} 条，差异 {len(rows)} 条"
    )
    return {
        "stmtinfo": {
            "setl_optins": text(data, "setl_optins", required=False) or region.admdvs,
            "stmt_rslt": "0" if not rows else "1",
            "stmt_rslt_dscr": summary,
            "diff_cnt": len(rows),
        },
        "stmtdetail": rows,
    }


def _rows(data: dict[str, Any]) -> list[Any]:
    details = data.get("details")
    if details is None and isinstance(data.get("file"), str):
        details = list(csv.DictReader(io.StringIO(data["file"])))
    if not isinstance(details, list):
        raise invalid_input("input.data.details: a list of lines (or data.file, CSV text)")
    if len(details) > MAX_LINES:
        raise invalid_input(f"input.data.details: more than {MAX_LINES} lines")
    return details


def _line(row: Any, index: int) -> HospitalLine:
    where = f"input.data.details[{index}]"
    if not isinstance(row, dict):
        raise invalid_input(f"{where}: must be an object")
    setl_id = row.get("setl_id")
    if not isinstance(setl_id, str) or not setl_id:
        raise invalid_input(f"{where}.setl_id: field required")
    flag = str(row.get("refd_setl_flag") or "0")
    if flag not in ("0", "1"):
        raise invalid_input(f"{where}.refd_setl_flag: 0 (settlement) or 1 (reversal)")
    return HospitalLine(
        setl_id=setl_id,
        reversal=flag == "1",
        medfee_sumamt=_amount(row, "medfee_sumamt", where),
        fund_pay_sumamt=_amount(row, "fund_pay_sumamt", where),
        mdtrt_id=str(row.get("mdtrt_id") or ""),
        psn_no=str(row.get("psn_no") or ""),
    )
