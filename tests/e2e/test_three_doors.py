"""One ledger behind three doors (SPEC §9): the same random claim sequence through the HIS API,
the NHSA gateway and FHIR R4 gives the same answers, refusals and ledger, to the fen."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.nhsa_stack import REGION, Stack, running_stack
from tests.e2e.test_fhir import fhir_claim

pytestmark = pytest.mark.e2e
AMOUNTS = ("inscp_scp_amt", "act_pay_dedc", "hifp_pay", "hifmi_pay", "maf_pay",
           "fund_pay_sumamt", "psn_part_amt")  # fmt: skip
FUNDS = {"390100": "hifp_pay", "390200": "hifmi_pay", "610100": "maf_pay"}
CATEGORIES = {
    "eligible": "inscp_scp_amt",
    "deductible": "act_pay_dedc",
    "copay": "psn_part_amt",
    "submitted": "medfee_sumamt",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("three-doors"))


def money(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda fen: Decimal(fen) / 100)


claims = st.fixed_dictionaries(
    {
        "med_type": st.sampled_from(
            ["inpatient", "chronic_outpatient", "general_outpatient", "accident_outpatient"]
        ),
        "scope": money(0, 30_000_000),
        "wholly": money(0, 500_000),
        "class_b": money(0, 200_000),
        "month": st.integers(1, 12),
        "dise_codg": st.sampled_from(["C34.9", "N18.5", "J10.1"]),
    }
)
steps = st.lists(
    st.one_of(claims, st.integers(0, 5).map(lambda k: {"reverse": k})), min_size=1, max_size=6
)


def _native(stack: Stack, psn: str, claim: dict[str, Any]) -> dict[str, Any]:
    total = claim["scope"] + claim["wholly"] + claim["class_b"]
    body = {
        "psn_no": psn, "mdtrt_id": uuid.uuid4().hex[:12], "med_type": claim["med_type"],
        "begntime": f"2024-{claim['month']:02d}-01T08:00:00",
        "endtime": f"2024-{claim['month']:02d}-02T10:00:00",
        "medfee_sumamt": f"{total:.2f}", "fulamt_ownpay_amt": f"{claim['wholly']:.2f}",
        "overlmt_selfpay": "0.00", "preselfpay_amt": f"{claim['class_b']:.2f}",
        "dise_codg": claim["dise_codg"],
    }  # fmt: skip
    with stack.http("C1") as his:
        answer = his.post("/api/v1/settlements", json=body,
                          headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    document = answer.json()
    if answer.status_code != 201:
        return {"code": document["code"]}
    return {"setl_id": document["setl_id"], **{name: document[name] for name in AMOUNTS}}


def _gateway(stack: Stack, psn: str, claim: dict[str, Any]) -> dict[str, Any]:
    total = claim["scope"] + claim["wholly"] + claim["class_b"]
    data = {
        "psn_no": psn, "mdtrt_id": uuid.uuid4().hex[:12],
        "med_type": REGION.med_type_code(claim["med_type"]),
        "begntime": f"2024-{claim['month']:02d}-01 08:00:00",
        "endtime": f"2024-{claim['month']:02d}-02 10:00:00",
        "medfee_sumamt": f"{total:.2f}", "fulamt_ownpay_amt": f"{claim['wholly']:.2f}",
        "overlmt_selfpay": "0", "preselfpay_amt": f"{claim['class_b']:.2f}",
        "dise_codg": claim["dise_codg"], "insutype": "390",
    }  # fmt: skip
    answer = stack.nhsa("2304", {"data": data}, code="C1")
    if answer["infcode"] != 0:
        return {"code": answer["err_msg"].split(":")[0]}
    info = answer["output"]["setlinfo"]
    return {"setl_id": info["setl_id"], **{name: info[name] for name in AMOUNTS}}


def _fhir(stack: Stack, psn: str, claim: dict[str, Any]) -> dict[str, Any]:
    total = claim["scope"] + claim["wholly"] + claim["class_b"]
    body = fhir_claim(
        psn, med_type=REGION.med_type_code(claim["med_type"]), total=f"{total:.2f}",
        wholly=f"{claim['wholly']:.2f}", class_b=f"{claim['class_b']:.2f}",
        dise_codg=claim["dise_codg"],
        start=f"2024-{claim['month']:02d}-01T08:00:00+08:00",
        end=f"2024-{claim['month']:02d}-02T10:00:00+08:00",
    )  # fmt: skip
    with stack.http("C1") as his:
        answer = his.post("/fhir/R4/Claim/$submit", json=body)
    document = answer.json()
    if answer.status_code != 200:
        return {"code": document["issue"][0]["details"]["coding"][0]["code"]}
    got: dict[str, Any] = {"setl_id": document["identifier"][0]["value"]}
    for row in document["adjudication"]:
        category = row["category"]["coding"][0]["code"]
        value = f"{Decimal(str(row['amount']['value'])):.2f}"
        if category == "benefit":
            got[FUNDS[row["reason"]["coding"][0]["code"]]] = value
        else:
            got[CATEGORIES[category]] = value
    got["fund_pay_sumamt"] = next(
        f"{Decimal(str(t['amount']['value'])):.2f}"
        for t in document["total"] if t["category"]["coding"][0]["code"] == "benefit"
    )  # fmt: skip
    got.pop("medfee_sumamt")
    return got


def _reverse(stack: Stack, door: str, psn: str, setl_id: str) -> str:
    if door == "gateway":
        answer = stack.nhsa("2305", {"data": {"setl_id": setl_id, "psn_no": psn}}, code="C1")
        return "reversed" if answer["infcode"] == 0 else answer["err_msg"].split(":")[0]
    with stack.http("C1") as his:  # FHIR has no cancel: its HIS uses the HIS API's
        answer = his.post(f"/api/v1/settlements/{setl_id}/reverse")
    return "reversed" if answer.status_code == 200 else answer.json()["code"]


def _ledger(stack: Stack, psn: str) -> list[tuple[str, str, str]]:
    path = stack.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT entry_type, med_type, delta FROM ledger WHERE psn_no = ? ORDER BY id", (psn,)
        ).fetchall()
        totals = db.execute(
            "SELECT * FROM accumulators WHERE psn_no = ? AND year = 2024", (psn,)
        ).fetchall()
    return [*rows, *[tuple(map(str, row[2:])) for row in totals]]


DOORS = {"native": _native, "gateway": _gateway, "fhir": _fhir}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=steps)
def test_the_same_claims_through_every_door_give_the_same_ledger(stack, sequence):
    persons = {door: stack.person() for door in DOORS}
    settled: dict[str, list[str]] = {door: [] for door in DOORS}
    for step in sequence:
        outcomes = {}
        for door, send in DOORS.items():
            if "reverse" in step:
                ids = settled[door]
                outcomes[door] = (
                    _reverse(stack, door, persons[door], ids[step["reverse"] % len(ids)])
                    if ids else "nothing to reverse"
                )  # fmt: skip
                continue
            outcome = send(stack, persons[door], step)
            if "setl_id" in outcome:
                settled[door].append(outcome.pop("setl_id"))
            outcomes[door] = outcome
        assert outcomes["native"] == outcomes["gateway"] == outcomes["fhir"], (step, outcomes)
    ledgers = {door: _ledger(stack, psn) for door, psn in persons.items()}
    assert ledgers["native"] == ledgers["gateway"] == ledgers["fhir"]
