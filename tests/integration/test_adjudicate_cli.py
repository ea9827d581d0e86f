"""`settlement adjudicate`: the real console script in a subprocess, JSON lines in and out."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SCRIPT = str(Path(sys.executable).parent / "settlement")
SPECIAL_PERSONS = Path(__file__).resolve().parents[1] / "unit" / "engine" / "special-persons.toml"
LEVEL_2 = {"level": 2, "public": False, "primary_care": False}
LEVEL_3 = {"level": 3, "public": True, "primary_care": False}
CLINIC = {"level": 1, "public": True, "primary_care": True}


def line(
    psn_no: str,
    med_type: str,
    total: str,
    hospital: dict[str, Any],
    wholly: str = "0",
    class_b: str = "0",
    begntime: str = "2024-04-01T08:00:00",
    **extra: Any,
) -> str:
    body = {
        "psn_no": psn_no,
        "mdtrt_id": f"{psn_no}-{med_type}-{total}",
        "med_type": med_type,
        "begntime": begntime,
        "endtime": begntime,
        "medfee_sumamt": total,
        "fulamt_ownpay_amt": wholly,
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": class_b,
        "hospital": hospital,
        **extra,
    }
    return json.dumps(body)


def run(lines: list[str], *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [SCRIPT, "adjudicate", *args],
        input="".join(text + "\n" for text in lines),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(text) for text in done.stdout.splitlines()]


def test_worked_examples_with_accumulators_carried_from_line_to_line() -> None:
    out = run(
        [
            line("A", "inpatient", "20000", LEVEL_3 | {"public": False}, "1000", "500"),
            line("B", "inpatient", "250000", LEVEL_3 | {"public": False}, "10000"),
            line("C", "inpatient", "31000", LEVEL_2, "1000"),
            line("D", "general_outpatient", "150", CLINIC),
            line("C", "inpatient", "50000", LEVEL_3 | {"public": False}),
            line("D", "general_outpatient", "400", CLINIC),
            line("E", "accident_outpatient", "1500", LEVEL_2),
        ],
        "--policy",
        "liaocheng-2024",
    )
    pays = [(r["hifp_pay"], r["hifmi_pay"], r["psn_part_amt"]) for r in out]
    assert pays == [
        ("10560.00", "0.00", "9440.00"),
        ("120000.00", "66400.00", "63600.00"),
        ("20650.00", "0.00", "10350.00"),
        ("75.00", "0.00", "75.00"),
        ("29730.00", "11172.00", "9098.00"),
        ("125.00", "0.00", "275.00"),
        ("1000.00", "0.00", "500.00"),
    ]
    assert [r["setl_id"] for r in out] == ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]
    assert out[4]["act_pay_dedc"] == "450.00"
    assert out[4]["accumulators"]["inpatient_stays"] == 2
    assert out[4]["accumulators"]["catastrophic_burden"] == "29620.00"
    assert out[5]["accumulators"]["general_outpatient_paid"] == "200.00"
    assert out[0]["setl_proc_info"][-1].endswith("= 9440.00")


def test_accumulators_are_per_person_and_insurance_year() -> None:
    out = run(
        [
            line("A", "general_outpatient", "400", CLINIC),
            line("A", "general_outpatient", "400", CLINIC, begntime="2025-01-02"),
            line("B", "general_outpatient", "400", CLINIC),
            line("A", "general_outpatient", "400", CLINIC),
        ]
    )
    assert [r["hifp_pay"] for r in out] == ["200.00", "200.00", "200.00", "0.00"]
    assert [r["insurance_year"] for r in out] == [2024, 2025, 2024, 2024]


def test_bad_lines_get_an_error_and_the_run_goes_on() -> None:
    good = line("A", "accident_outpatient", "300", LEVEL_2)
    missing = json.loads(good)
    del missing["medfee_sumamt"]
    no_hospital = json.loads(good)
    del no_hospital["hospital"]
    out = run(
        [
            "{not json",
            json.dumps(missing),
            json.dumps(no_hospital),
            line("A", "accident_outpatient", "300", {"level": 4}),
            line("A", "accident_outpatient", "300.001", LEVEL_2),
            line("A", "accident_outpatient", "300", LEVEL_2, wholly="301"),
            line("A", "inpatient", "300", LEVEL_2, endtime="2024-03-01"),
            line("A", "chronic_outpatient", "300", LEVEL_2, dise_codg="J18.9"),
            line("A", "general_outpatient", "300", LEVEL_2),
            line("A", "dental", "300", LEVEL_2),
            "[1, 2]",
            "",
            good,
        ]
    )
    codes = [r.get("rejected", {}).get("code") for r in out]
    assert codes == [
        "INVALID_JSON",
        "INVALID_REQUEST",
        "INVALID_REQUEST",
        "INVALID_REQUEST",
        "INVALID_AMOUNTS",
        "INVALID_AMOUNTS",
        "INVALID_DATES",
        "DISEASE_NOT_COVERED",
        "NOT_PRIMARY_CARE",
        "INVALID_REQUEST",
        "INVALID_REQUEST",
        "INVALID_JSON",
        None,
    ]
    assert "medfee_sumamt" in out[1]["rejected"]["message"]
    assert "hospital" in out[2]["rejected"]["message"]
    assert "hospital.level" in out[3]["rejected"]["message"]
    # the refused lines posted nothing: the good one is the person's first accident visit
    assert out[-1]["hifp_pay"] == "180.00"
    assert out[-1]["setl_id"] == "B13"
    assert out[-1]["accumulators"]["accident_outpatient_paid"] == "180.00"


def test_json_numbers_are_read_exactly() -> None:
    body = json.loads(line("A", "general_outpatient", "0", CLINIC))
    text = json.dumps(body).replace('"medfee_sumamt": "0"', '"medfee_sumamt": 0.05')
    assert run([text])[0]["hifp_pay"] == "0.03"


def test_a_policy_file_and_the_person_field() -> None:
    lines = [
        line(
            "A", "inpatient", "20000", LEVEL_3 | {"public": False}, person={"identity": "destitute"}
        ),
        line("B", "inpatient", "20000", LEVEL_3 | {"public": False}),
        line(
            "C",
            "chronic_outpatient",
            "1000",
            CLINIC,
            dise_codg="N18.5",
            person={"medical_assistance": True},
        ),
        line("D", "inpatient", "1", CLINIC, person={"identity": "king"}),
    ]
    out = run(lines, "--policy", str(SPECIAL_PERSONS))
    assert (out[0]["hifmi_pay"], out[0]["maf_pay"], out[0]["psn_part_amt"]) == (
        "1976.00",
        "4594.80",
        "1969.20",
    )
    assert [d["fund_pay_type"] for d in out[0]["setldetail"]] == ["390100", "390200", "610100"]
    assert out[1]["maf_pay"] == "0.00"
    assert out[2]["maf_pay"] == "105.00"
    assert out[3]["rejected"]["code"] == "INVALID_REQUEST"
    assert "person.identity" in out[3]["rejected"]["message"]


def test_an_unknown_policy_is_a_usage_error() -> None:
    done = subprocess.run(
        [SCRIPT, "adjudicate", "--policy", "atlantis-2024"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no such policy" in done.stderr


@pytest.mark.timeout(60)
def test_it_answers_before_the_input_ends() -> None:
    # Streaming: answers come while stdin is still open, so input is never held whole.
    with subprocess.Popen(
        [SCRIPT, "adjudicate", "--line-buffered"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        for n in range(1, 4):
            proc.stdin.write(line("A", "general_outpatient", "100", CLINIC) + "\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            assert answer["setl_id"] == f"B{n}"
            assert answer["accumulators"]["general_outpatient_paid"] == f"{50 * n}.00"
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0


@pytest.mark.timeout(60)
def test_buffered_output_is_flushed_in_blocks_while_input_continues() -> None:
    more = threading.Event()
    with subprocess.Popen(
        [SCRIPT, "adjudicate"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin
        text = line("A", "accident_outpatient", "150", LEVEL_2) + "\n"

        def feed() -> None:
            # A writer of its own: the child's answers fill our pipe while we still feed it.
            for _ in range(1100):
                stdin.write(text)
            stdin.flush()
            more.wait(timeout=30)
            stdin.close()

        writer = threading.Thread(target=feed)
        writer.start()
        first = [proc.stdout.readline() for _ in range(1024)]
        assert json.loads(first[-1])["setl_id"] == "B1024"  # while stdin is still open
        more.set()
        rest = proc.stdout.read().splitlines()
        writer.join()
        assert len(rest) == 1100 - 1024
        assert proc.wait(timeout=30) == 0
