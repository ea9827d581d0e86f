"""3201 and 3202 over the gateway (SPEC §9): the hospital's books against the ledger, to the fen,
and the same figures as the statements module the ops console reads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from services.settlement.adapters.statement_lines import LedgerLines
from services.settlement.service_layer import statements
from shared.china_time import china_today
from shared.db import make_engine
from tests.e2e.nhsa_stack import REGION, Stack, nhsa_claim, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("reconciliation"))


def ok(answer: dict) -> dict:
    assert answer["infcode"] == 0, answer["err_msg"]
    return answer["output"]


@pytest.fixture(scope="module")
def day(stack) -> dict:
    """A day of hospital C1: three settlements, one cancelled; the lines as the HIS books them."""
    lines = []
    for total in ("150.00", "400.00", "1500.00"):
        med_type = "11" if total != "1500.00" else REGION.med_type_code("accident_outpatient")
        data = nhsa_claim(stack.person(), med_type=med_type, medfee_sumamt=total,
                          fulamt_ownpay_amt=0, preselfpay_amt=0)  # fmt: skip
        info = ok(stack.nhsa("2304", {"data": data}, code="C1"))["setlinfo"]
        lines.append(
            {"setl_id": info["setl_id"], "mdtrt_id": info["mdtrt_id"], "psn_no": info["psn_no"],
             "medfee_sumamt": info["medfee_sumamt"], "fund_pay_sumamt": info["fund_pay_sumamt"],
             "acct_pay": "0.00", "refd_setl_flag": "0"}
        )  # fmt: skip
    first = lines[0]
    cancel = {"setl_id": first["setl_id"], "psn_no": first["psn_no"]}
    cancelled = ok(stack.nhsa("2305", {"data": cancel}, code="C1"))["setlinfo"]
    lines.append(
        {**first, "refd_setl_flag": "1", "medfee_sumamt": cancelled["medfee_sumamt"],
         "fund_pay_sumamt": cancelled["fund_pay_sumamt"]}
    )  # fmt: skip
    return {"date": china_today().isoformat(), "lines": lines}


def totals_input(day: dict, **figures: object) -> dict:
    data = {
        "insutype": "390", "clr_type": "", "setl_optins": REGION.admdvs,
        "stmt_begndate": day["date"], "stmt_enddate": day["date"],
        "medfee_sumamt": "1900.00", "fund_pay_sumamt": "1200.00", "acct_pay": "0.00",
        "fixmedins_setl_cnt": "2",
    }  # fmt: skip
    data.update(figures)
    return {"data": data}


def test_3201_agrees_when_the_books_match(stack, day):
    # 150 → 75 settled, then cancelled; 400 → 200 (50%); accident 1500 → 1000 (its cap).
    info = ok(stack.nhsa("3201", totals_input(day), code="C1"))["stmtinfo"]
    assert info["stmt_rslt"] == "0", info
    assert info["stmt_rslt_dscr"].startswith("对账一致")
    assert "医保方结算 2 笔，医疗费总额 1900.00 元，基金支付 1200.00 元" in info["stmt_rslt_dscr"]
    assert info["setl_optins"] == REGION.admdvs


def test_3201_differs_and_names_our_figures(stack, day):
    theirs = totals_input(day, fund_pay_sumamt="1200.01", fixmedins_setl_cnt="3")
    info = ok(stack.nhsa("3201", theirs, code="C1"))["stmtinfo"]
    assert info["stmt_rslt"] == "1"
    description = info["stmt_rslt_dscr"]
    assert "医保方结算 2 笔，医疗费总额 1900.00 元，基金支付 1200.00 元" in description
    assert "结算笔数 医保方 2 / 医院方 3" in description
    assert "基金支付总额 医保方 1200.00 / 医院方 1200.01" in description


def test_3201_by_clearing_type(stack, day):
    outpatient = totals_input(day, clr_type="11")
    assert ok(stack.nhsa("3201", outpatient, code="C1"))["stmtinfo"]["stmt_rslt"] == "0"
    inpatient = totals_input(day, clr_type="21")
    assert ok(stack.nhsa("3201", inpatient, code="C1"))["stmtinfo"]["stmt_rslt"] == "1"


def test_3201_figures_are_the_statements_modules(stack, day):
    async def ours():
        engine = make_engine(stack.database_url)
        try:
            today = china_today()
            every = await statements.statements(LedgerLines(engine), today, today)
        finally:
            await engine.dispose()
        return every

    by_hospital = asyncio.run(ours())
    [c1] = [s for s in by_hospital.values() if s.settlements == 3 and s.reversals == 1]
    assert (c1.totals.count, f"{c1.totals.fund_pay_sumamt}") == (2, "1200.00")


def test_3202_agrees_line_by_line(stack, day):
    lines = {"data": {"stmt_begndate": day["date"], "stmt_enddate": day["date"],
                      "details": day["lines"]}}  # fmt: skip
    out = ok(stack.nhsa("3202", lines, code="C1"))
    assert out["stmtinfo"]["stmt_rslt"] == "0" and out["stmtdetail"] == []


def test_3202_lists_missing_here_missing_there_and_amounts(stack, day):
    theirs = [dict(line) for line in day["lines"]]
    dropped = theirs.pop(1)  # a settlement the HIS lost
    theirs[1]["fund_pay_sumamt"] = "999.99"  # a typo in the HIS
    stranger = {"setl_id": "S-unknown", "mdtrt_id": "MZ1", "psn_no": "P1"}
    theirs.append({**stranger, "medfee_sumamt": "10.00", "fund_pay_sumamt": "5.00"})
    header = "setl_id,mdtrt_id,psn_no,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag\n"
    file = header + "".join(
        f"{t['setl_id']},{t['mdtrt_id']},{t['psn_no']},{t['medfee_sumamt']},"
        f"{t['fund_pay_sumamt']},0.00,{t.get('refd_setl_flag', '0')}\n"
        for t in theirs
    )
    for data in ({"details": theirs}, {"file": file}):
        asked = {"data": {"stmt_begndate": day["date"], "stmt_enddate": day["date"], **data}}
        out = ok(stack.nhsa("3202", asked, code="C1"))
        assert out["stmtinfo"]["stmt_rslt"] == "1" and out["stmtinfo"]["diff_cnt"] == 3
        kinds = {(row["setl_id"], row["stmt_rslt"]) for row in out["stmtdetail"]}
        assert kinds == {
            (dropped["setl_id"], "2"),  # missing there (at the hospital)
            (theirs[1]["setl_id"], "3"),  # amounts differ
            ("S-unknown", "1"),  # missing here
        }
        [differ] = [row for row in out["stmtdetail"] if row["stmt_rslt"] == "3"]
        assert differ["fixmedins_fund_pay_sumamt"] == "999.99"
        assert differ["medins_fund_pay_sumamt"] == day["lines"][2]["fund_pay_sumamt"]


def test_a_period_with_nothing_and_a_bad_period(stack, day):
    yesterday = (china_today() - timedelta(days=1)).isoformat()
    empty = totals_input(day, stmt_begndate=yesterday, stmt_enddate=yesterday)
    empty["data"].update(medfee_sumamt="0", fund_pay_sumamt="0", fixmedins_setl_cnt="0")
    assert ok(stack.nhsa("3201", empty, code="C1"))["stmtinfo"]["stmt_rslt"] == "0"
    backwards = totals_input(day, stmt_begndate=day["date"], stmt_enddate=yesterday)
    answer = stack.nhsa("3201", backwards, code="C1")
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("INVALID_INPUT: ")
