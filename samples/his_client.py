#!/usr/bin/env python3
"""A hospital HIS speaking the national platform's interface to the settlement service's NHSA
gateway (SPEC §9): sign-in → 1101 → 2303 → 2304 → 5206 → 2305 → 3201.

Against `make run` (the key of hospital DEMO is in its banner; the person is one registered and
covered, e.g. the README's walk-through):

    python3 samples/his_client.py --key KEY --certno 371502199001010012 --date 2026-03-02

Standard library only, as an HIS integration would start. Prints each transaction and its
answer; exits 1 at the first refusal (infcode -1).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any


class Platform:
    """The gateway as an HIS sees it: one URL, an envelope, a message id per call."""

    def __init__(self, url: str, key: str, hospital: str) -> None:
        self.url = url.rstrip("/") + "/api/nhsa/v1"
        self.key = key
        self.hospital = hospital
        self.sign_no = ""
        self.sequence = 0

    def call(self, infno: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Send one transaction; its msgid and its output (exits on a refusal)."""
        self.sequence += 1
        msgid = f"{self.hospital}{time.strftime('%Y%m%d%H%M%S')}{self.sequence:04d}"
        envelope = {
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": "371500",
            "insuplc_admdvs": "371500", "recer_sys_code": "HIS", "infver": "V1.0",
            "opter_type": "1", "opter": "001", "opter_name": "收费员",
            "inf_time": time.strftime("%Y-%m-%d %H:%M:%S"), "fixmedins_code": self.hospital,
            "fixmedins_name": self.hospital, "sign_no": self.sign_no, "input": payload,
        }  # fmt: skip
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's)
            self.url,
            data=json.dumps(envelope, ensure_ascii=False).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            answer = json.load(response)
        print(f"--- {infno} ({msgid}): infcode {answer['infcode']} {answer['err_msg']}")
        if answer["infcode"] != 0:
            sys.exit(1)
        print(json.dumps(answer["output"], ensure_ascii=False, indent=1)[:1500])
        return msgid, answer["output"]


def walk(platform: Platform, certno: str, day: str) -> dict[str, Any]:
    """The walk; returns the 3201 answer."""
    _, signed = platform.call("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": ""}})
    platform.sign_no = signed["signinoutb"]["sign_no"]
    _, person = platform.call(
        "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "begntime": day}}
    )
    psn_no = person["baseinfo"]["psn_no"]
    claim = {
        "psn_no": psn_no, "mdtrt_id": f"ZY{int(time.time() * 1000)}", "med_type": "21",
        "begntime": f"{day} 08:00:00", "endtime": f"{day} 18:00:00", "insutype": "390",
        "medfee_sumamt": "20000.00", "fulamt_ownpay_amt": "1000.00", "overlmt_selfpay": "0.00",
        "preselfpay_amt": "500.00", "dise_codg": "K35.8",
    }  # fmt: skip
    platform.call("2303", {"data": claim})
    _, settled = platform.call("2304", {"data": claim})
    setl_id = settled["setlinfo"]["setl_id"]
    platform.call("5206", {"data": {"psn_no": psn_no, "cum_ym": day[:7].replace("-", "")}})
    platform.call("2305", {"data": {"setl_id": setl_id, "mdtrt_id": claim["mdtrt_id"],
                                    "psn_no": psn_no}})  # fmt: skip
    today = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    # Our books for today: one settlement and its cancel, so nothing stands.
    _, statement = platform.call(
        "3201",
        {"data": {"insutype": "390", "clr_type": "", "setl_optins": "371500",
                  "stmt_begndate": today, "stmt_enddate": today, "medfee_sumamt": "0.00",
                  "fund_pay_sumamt": "0.00", "acct_pay": "0.00", "fixmedins_setl_cnt": "0"}},
    )  # fmt: skip
    return statement


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8002")
    parser.add_argument("--key", required=True, help="the hospital's API key")
    parser.add_argument("--hospital", default="DEMO", help="its code (fixmedins_code)")
    parser.add_argument("--certno", required=True, help="a covered person's resident ID")
    parser.add_argument("--date", default=time.strftime("%Y-%m-%d"), help="the visit's day")
    args = parser.parse_args(argv)
    statement = walk(Platform(args.url, args.key, args.hospital), args.certno, args.date)
    print(statement["stmtinfo"]["stmt_rslt_dscr"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
