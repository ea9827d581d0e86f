"""The NHSA gateway over real HTTP (SPEC §9): every infno, the envelope's refusals, the
Chinese receipt, 2601 after a lost answer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.nhsa_stack import REGION, Stack, nhsa_claim, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("nhsa"))


def ok(answer: dict) -> dict:
    assert answer["infcode"] == 0, answer["err_msg"]
    assert answer["err_msg"] == ""
    assert len(answer["refmsg_time"]) == len(answer["respond_time"]) == 17
    assert answer["inf_refmsgid"].startswith(REGION.admdvs)
    return answer["output"]


def refused(answer: dict, code: str) -> str:
    assert answer["infcode"] == -1 and answer["output"] == {}, answer
    assert answer["err_msg"].startswith(f"{code}: "), answer["err_msg"]
    return answer["err_msg"]


def test_sign_in_then_person_by_resident_id(stack):
    signed = ok(stack.nhsa("9001", {"signIn": {"opter_no": "001", "mac": "m", "ip": "10.0.0.1"}}))
    assert signed["signinoutb"]["sign_no"].startswith("H3")
    psn = stack.person()
    with stack.http() as his:
        certno = his.get(f"/api/v1/persons/{psn}/coverage").json()
    assert certno["psn_no"] == psn
    by_psn = ok(stack.nhsa("1101", {"data": {"psn_no": psn, "begntime": "2024-03-01"}}))
    base = by_psn["baseinfo"]
    assert base["psn_no"] == psn and base["psn_name"] == "张三"
    assert base["gend"] == "1" and base["brdy"] == "2010-05-17" and base["age"] == 13
    by_cert = ok(
        stack.nhsa(
            "1101",
            {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": base["certno"],
                      "begntime": "2024-03-01 08:00:00"}},
        )
    )  # fmt: skip
    assert by_cert["baseinfo"]["certno"] == base["certno"]
    [insured] = by_psn["insuinfo"]
    assert insured["insutype"] == "390" and insured["psn_insu_stas"] == "1"
    assert insured["psn_type"] == REGION.psn_type["student"]
    assert insured["insuplc_admdvs"] == REGION.admdvs
    assert by_psn["idetinfo"] == []


def test_the_identity_timeline_and_an_unpaid_person(stack):
    destitute = ok(stack.nhsa("1101", {"data": {"psn_no": stack.special["destitute"],
                                               "begntime": "2024-03-01"}}))  # fmt: skip
    assert destitute["idetinfo"] == [
        {"psn_idet_type": REGION.psn_idet_type["destitute"], "begntime": "2024-02-01",
         "endtime": "2024-08-31"},
        {"psn_idet_type": REGION.psn_idet_type["medical_assistance"], "begntime": "2024-02-01",
         "endtime": "2024-08-31"},
    ]  # fmt: skip
    unpaid = ok(stack.nhsa("1101", {"data": {"psn_no": stack.special["unpaid"],
                                           "begntime": "2024-03-01"}}))  # fmt: skip
    assert unpaid["insuinfo"][0]["psn_insu_stas"] == REGION.psn_insu_stas.paused
    refused(stack.nhsa("1101", {"data": {"psn_no": "P-nobody"}}), "UNKNOWN_PERSON")


def test_preview_settle_read_accumulate_cancel(stack):
    psn = stack.person()
    data = nhsa_claim(psn)
    preview = ok(stack.nhsa("2303", {"data": data}))["setlinfo"]
    assert preview["setl_id"] is None and preview["hifp_pay"] == "10560.00"

    msgid = stack.msgid()
    settled = ok(stack.nhsa("2304", {"data": data}, msgid=msgid))
    info, details = settled["setlinfo"], settled["setldetail"]
    assert info["medins_setl_id"] == msgid and info["setl_id"].startswith("S")
    assert info["med_type"] == "21" and info["insutype"] == "390"
    assert (info["hifp_pay"], info["psn_cash_pay"], info["acct_pay"], info["balc"]) == (
        "10560.00", "9440.00", "0.00", "0.00",
    )  # fmt: skip
    assert len(info["setl_time"]) == 19
    assert info["setl_proc_info"][0].startswith("政策范围内费用：医疗费总额 20000.00")
    assert [(d["fund_pay_type"], d["fund_payamt"]) for d in details] == [
        ("390100", "10560.00"),
        ("390200", "0.00"),
    ]
    assert details[0]["fund_pay_type_name"] == REGION.fund("hifp_pay").name
    assert "基本医疗保险统筹基金 390100" in details[0]["setl_proc_info"]
    assert details[1]["setl_proc_info"].startswith("大病保险：未达起付标准 11,000 元")

    again = ok(stack.nhsa("2304", {"data": data}, msgid=msgid))
    assert again["setlinfo"] == info  # msgid is the idempotency key

    read = ok(stack.nhsa("5203", {"data": {"psn_no": psn, "setl_id": info["setl_id"]}}))
    assert read["setlinfo"]["hifp_pay"] == "10560.00"
    assert read["setlinfo"]["refd_setl_flag"] == "0"

    cum = ok(stack.nhsa("5206", {"data": {"psn_no": psn, "cum_ym": "202403"}}))["cuminfo"]
    by_type = {row["cum_type_code"]: row["cum"] for row in cum}
    assert by_type[REGION.cum_type_code["basic_paid"]] == "10560.00"
    assert by_type[REGION.cum_type_code["inpatient_stays"]] == "1.00"
    assert {row["year"] for row in cum} == {"2024"} and len(cum) == 7

    cancel = {"data": {"setl_id": info["setl_id"], "mdtrt_id": data["mdtrt_id"], "psn_no": psn}}
    cancel_msgid = stack.msgid()
    cancelled = ok(stack.nhsa("2305", cancel, msgid=cancel_msgid))["setlinfo"]
    assert cancelled["hifp_pay"] == "-10560.00" and cancelled["refd_setl_flag"] == "1"
    assert ok(stack.nhsa("2305", cancel, msgid=cancel_msgid))["setlinfo"] == cancelled
    refused(stack.nhsa("2305", cancel), "ALREADY_REVERSED")
    cum = ok(stack.nhsa("5206", {"data": {"psn_no": psn, "cum_ym": "202403"}}))["cuminfo"]
    assert all(row["cum"] == "0.00" for row in cum)
    undo_cancel = {"data": {"psn_no": psn, "omsgid": cancel_msgid, "oinfno": "2305"}}
    refused(stack.nhsa("2601", undo_cancel), "CANCEL_IRREVERSIBLE")


def test_2601_after_a_lost_answer_then_a_retry(stack):
    psn = stack.person()
    data = nhsa_claim(psn)
    lost = stack.msgid()
    first = ok(stack.nhsa("2304", {"data": data}, msgid=lost))  # the HIS never saw this answer
    undo = {"data": {"psn_no": psn, "omsgid": lost, "oinfno": "2304"}}
    undone = ok(stack.nhsa("2601", undo))
    assert undone["setl_id"] == first["setlinfo"]["setl_id"] and undone["undone"] == "1"
    assert ok(stack.nhsa("2601", undo))["setl_id"] == undone["setl_id"]  # safe to repeat
    refused(stack.nhsa("2304", {"data": data}, msgid=lost), "MESSAGE_VOIDED")
    retried = ok(stack.nhsa("2304", {"data": data}))["setlinfo"]
    assert retried["hifp_pay"] == "10560.00"  # the reversed stay no longer counts
    assert retried["accumulators"]["inpatient_stays"] == 1


def test_2601_of_a_message_that_never_arrived_voids_it(stack):
    psn = stack.person()
    never = stack.msgid()
    undone = ok(stack.nhsa("2601", {"data": {"psn_no": psn, "omsgid": never, "oinfno": "2304"}}))
    assert undone["undone"] == "0" and undone["setl_id"] is None
    # The message turns up late: refused, and nothing stands in the ledger.
    refused(stack.nhsa("2304", {"data": nhsa_claim(psn)}, msgid=never), "MESSAGE_VOIDED")
    cum = ok(stack.nhsa("5206", {"data": {"psn_no": psn, "cum_ym": "202403"}}))["cuminfo"]
    assert all(row["cum"] == "0.00" for row in cum)


def test_bad_envelopes_and_inputs_are_refused_in_the_envelope(stack):
    psn = stack.person()
    with stack.http() as his:
        for body, code in (
            (b"not json", "INVALID_ENVELOPE"),
            (b"[]", "INVALID_ENVELOPE"),
            (json.dumps({"infno": "2304"}).encode(), "INVALID_ENVELOPE"),
        ):
            answer = his.post("/api/nhsa/v1", content=body)
            assert answer.status_code == 200
            refused(answer.json(), code)
        missing = stack.envelope("2304", {"data": nhsa_claim(psn)})
        del missing["sign_no"]
        assert "sign_no: field required" in refused(
            his.post("/api/nhsa/v1", json=missing).json(), "INVALID_ENVELOPE"
        )
    with stack.http("nobody") as stranger:
        answer = stranger.post("/api/nhsa/v1", json=stack.envelope("9001", {"signIn": {}}))
        refused(answer.json(), "UNAUTHENTICATED")
    refused(stack.nhsa("9999", {}), "UNKNOWN_INFNO")
    nul = refused(stack.nhsa("2304", {"data": nhsa_claim(psn)}, msgid="M\x00"), "INVALID_ENVELOPE")
    assert "msgid: must not contain control characters" in nul
    for data in (
        {"psn_no": psn, "omsgid": "M\x00", "oinfno": "2304"},
        {"psn_no": psn, "omsgid": "M" * 256, "oinfno": "2304"},
        {"psn_no": psn, "omsgid": stack.msgid(), "oinfno": "230400000"},
    ):
        refused(stack.nhsa("2601", {"data": data}), "INVALID_INPUT")
    refused(stack.nhsa("2304", {"data": []}), "INVALID_INPUT")
    refused(stack.nhsa("2304", {"data": nhsa_claim(psn, med_type="99")}), "INVALID_REQUEST")
    refused(stack.nhsa("2304", {"data": nhsa_claim(psn, insutype="310")}), "INVALID_INPUT")
    refused(stack.nhsa("2304", {"data": nhsa_claim(psn, medfee_sumamt="x")}), "INVALID_AMOUNTS")
    mismatch = stack.envelope("2304", {"data": nhsa_claim(psn)})
    mismatch["fixmedins_code"] = "H2"
    with stack.http() as his:
        refused(his.post("/api/nhsa/v1", json=mismatch).json(), "HOSPITAL_MISMATCH")
    refused(stack.nhsa("2304", {"data": nhsa_claim(psn, med_type="11")}), "NOT_PRIMARY_CARE")
    refused(stack.nhsa("5206", {"data": {"psn_no": psn, "cum_ym": "2024-3"}}), "INVALID_INPUT")
    # Nothing was written by any of them.
    cum = ok(stack.nhsa("5206", {"data": {"psn_no": psn, "cum_ym": "202403"}}))["cuminfo"]
    assert all(row["cum"] == "0.00" for row in cum)


def test_the_his_api_answers_in_chinese_when_asked(stack):
    psn = stack.person()
    body = {
        "psn_no": psn, "mdtrt_id": "ZY-lang", "med_type": "inpatient",
        "begntime": "2024-03-01T08:00:00", "endtime": "2024-03-10T10:00:00",
        "medfee_sumamt": "20000.00", "fulamt_ownpay_amt": "1000.00", "overlmt_selfpay": "0.00",
        "preselfpay_amt": "500.00", "dise_codg": None,
    }  # fmt: skip
    with stack.http(**{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}) as his:
        preview = his.post("/api/v1/settlements/preview", json=body).json()
        assert "setl_proc_info" in preview, preview
        settled = his.post("/api/v1/settlements", json=body, headers={"Idempotency-Key": "zh-1"})
    assert (
        preview["setl_proc_info"][-1]
        == "基金合计支付 10560.00 元；个人支付 20000.00 − 10560.00 = 9440.00 元"
    )
    assert settled.status_code == 201 and settled.json()["setl_proc_info"][0].startswith("政策范围")
    with stack.http(**{"Accept-Language": "en-GB, zh;q=0.5"}) as his:
        english = his.post("/api/v1/settlements/preview", json=body).json()
    with stack.http() as his:
        default = his.post("/api/v1/settlements/preview", json=body).json()
    assert english == default
    # The second stay now (deductible halved), in English as before.
    assert default["setl_proc_info"][-1] == (
        "Funds pay 13596.00 in all; the patient pays 20000.00 − 13596.00 = 6404.00"
    )
