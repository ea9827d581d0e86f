"""`settlement adjudicate` against an independent implementation of SPEC §5, to the fen.

Thousands of random claim sequences (a few persons, so accumulators carry from line to line and
caps and band edges are crossed) go through the real console script; every line's answer must
equal the reference's, field by field.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.crosscheck.reference import Reference

pytestmark = pytest.mark.integration

FIELDS = (
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
)
CODES_OK = ("C34.901", "C91.0", "C97", "N18.5", "Z94.0", "D66", "D67", "D68.1", "c50.9")
CODES_BAD = ("C98", "D68.2", "J18.9", "I10", "")


def _amount(rng: random.Random, high: int) -> str:
    cents = rng.randint(0, high * 100)
    return f"{Decimal(cents) / 100:.2f}"


def _claim(rng: random.Random, i: int) -> dict:
    kind = rng.choice(
        ["inpatient"] * 4
        + ["chronic_outpatient"] * 2
        + ["general_outpatient", "accident_outpatient"]
    )
    high = {"inpatient": 300_000, "chronic_outpatient": 80_000}.get(kind, 3_000)
    if rng.random() < 0.1:
        high = 5  # small claims: policy-scope amount below the deductible
    total = Decimal(_amount(rng, high))
    parts = []
    left = total
    for _ in range(3):
        part = (
            Decimal(_amount(rng, int(left / 4))) if left > 4 and rng.random() < 0.5 else Decimal(0)
        )
        parts.append(part)
        left -= part
    if rng.random() < 0.02:
        parts[0] = total + 1  # negative policy-scope amount
    year = rng.choice([2024, 2024, 2024, 2025])
    day = rng.randint(1, 27)
    begin = f"{year}-{rng.randint(1, 12):02d}-{day:02d}T08:00:00"
    end = f"{year}-12-{28 if rng.random() > 0.02 else 1:02d}T09:30:00"
    if rng.random() < 0.02:
        end = f"{year - 1}-12-31T00:00:00"
    level = rng.choice([1, 2, 3])
    return {
        "psn_no": f"P{rng.randint(1, 12):03d}",
        "mdtrt_id": f"M{i}",
        "med_type": kind,
        "begntime": begin,
        "endtime": end,
        "medfee_sumamt": f"{total:.2f}",
        "fulamt_ownpay_amt": f"{parts[0]:.2f}",
        "overlmt_selfpay": f"{parts[1]:.2f}",
        "preselfpay_amt": f"{parts[2]:.2f}",
        "dise_codg": rng.choice(CODES_OK if rng.random() < 0.85 else CODES_BAD),
        "hospital": {
            "level": level,
            "public": rng.random() < 0.5,
            "primary_care": rng.random() < 0.5,
        },
    }


def _script() -> str:
    return str(Path(sys.executable).parent / "settlement")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_match_the_reference_to_the_fen(seed: int) -> None:
    rng = random.Random(seed)
    claims = [_claim(rng, i) for i in range(1500)]
    stdin = "".join(json.dumps(c) + "\n" for c in claims)
    out = subprocess.run(
        [_script(), "adjudicate", "--policy", "liaocheng-2024"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    assert len(out) == len(claims)
    reference = Reference()
    for line_no, (claim, raw) in enumerate(zip(claims, out, strict=True), start=1):
        expected = reference.settle(claim)
        got = json.loads(raw)
        where = f"line {line_no}: {json.dumps(claim)}"
        if "rejected" in expected:
            assert "rejected" in got, where
            assert got["rejected"]["code"] == expected["rejected"], where
            continue
        assert "rejected" not in got, f"{where} -> {got}"
        for name in FIELDS:
            assert got[name] == f"{expected[name]:.2f}", f"{where}: {name}"
