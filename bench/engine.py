"""Adjudication speed: the pure engine (claims/s on one core) and `settlement adjudicate` end to
end, each beside a baseline measured in the same run.

Engine baseline: a loop doing the waterfall's bare Decimal arithmetic on the same claims.
Command baseline: a Python process that only `json.loads` + `json.dumps` the same lines.
Rates are per second of CPU time (the machine may be shared; wall time is printed beside).
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from services.settlement.engine import (
    Accumulator,
    Claim,
    HospitalProfile,
    Rejected,
    adjudicate,
    load_policy,
    parse_claim,
)

ENGINE_CLAIMS = 100_000
COMMAND_LINES = 100_000
PERSONS = 20_000
CENT = Decimal("0.01")
MIX = (
    ["inpatient"] * 3 + ["chronic_outpatient"] * 2 + ["general_outpatient"] * 4
    + ["accident_outpatient"]
)  # fmt: skip
LIMITS = {
    "inpatient": 60_000,
    "chronic_outpatient": 8_000,
    "general_outpatient": 300,
    "accident_outpatient": 2_000,
}
DISEASES = ("C34.901", "N18.5", "Z94.0", "C91.0", "D66")


def claim_lines(count: int, seed: int = 2024) -> list[dict[str, Any]]:
    """Realistic claims: mostly small outpatient visits, some stays, amounts to the fen."""
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        kind = rng.choice(MIX)
        total = Decimal(rng.randint(100, LIMITS[kind] * 100)) * CENT
        wholly = (total * Decimal(rng.randint(0, 10)) / 100).quantize(CENT)
        class_b = (total * Decimal(rng.randint(0, 8)) / 100).quantize(CENT)
        day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        lines.append(
            {
                "psn_no": f"P{rng.randrange(PERSONS):06d}",
                "mdtrt_id": f"M{n}",
                "med_type": kind,
                "begntime": f"{day}T08:00:00",
                "endtime": f"{day}T17:00:00",
                "medfee_sumamt": f"{total:.2f}",
                "fulamt_ownpay_amt": f"{wholly:.2f}",
                "overlmt_selfpay": "0.00",
                "preselfpay_amt": f"{class_b:.2f}",
                "dise_codg": rng.choice(DISEASES),
                "hospital": {
                    "level": rng.choice((1, 2, 3)),
                    "public": rng.random() < 0.6,
                    "primary_care": kind == "general_outpatient" or rng.random() < 0.3,
                },
            }
        )
    return lines


def engine_rate(claims: list[tuple[Claim, HospitalProfile]], *, wire: bool = False) -> float:
    """Claims adjudicated and posted per CPU second; with ``wire``, also rendered as SPEC §6."""
    policy = load_policy("liaocheng-2024")
    accumulators: dict[tuple[str, int], Accumulator] = {}
    zero = Accumulator.zero()
    started = time.process_time()
    for claim, hospital in claims:
        key = (claim.psn_no, claim.insurance_year)
        try:
            result = adjudicate(policy, claim, hospital, accumulators.get(key, zero))
        except Rejected:
            continue
        accumulators[key] = result.accumulator_after
        if wire:
            result.to_wire(setl_id="B1")
    return len(claims) / (time.process_time() - started)


def arithmetic_rate(claims: list[tuple[Claim, HospitalProfile]]) -> float:
    """The bare Decimal work of a waterfall: P, a deductible, a ratio, a cap, a band, a split."""
    ratio, cap, band = Decimal("0.6"), Decimal("120000"), Decimal("11000")
    paid: dict[str, Decimal] = {}
    started = time.process_time()
    for claim, _ in claims:
        p = claim.medfee_sumamt - claim.fulamt_ownpay_amt - claim.overlmt_selfpay
        p -= claim.preselfpay_amt
        basic = ((p - min(p, Decimal(100))) * ratio).quantize(CENT, ROUND_HALF_UP)
        basic = min(basic, cap - paid.get(claim.psn_no, Decimal(0)))
        burden = p - basic
        second = (max(burden - band, Decimal(0)) * ratio).quantize(CENT, ROUND_HALF_UP)
        paid[claim.psn_no] = paid.get(claim.psn_no, Decimal(0)) + basic
        _ = claim.medfee_sumamt - basic - second
    return len(claims) / (time.process_time() - started)


ECHO = (
    "import json, sys\n"
    "for line in sys.stdin.buffer:\n"
    "    sys.stdout.write(json.dumps(json.loads(line)) + '\\n')\n"
)


def command_rates(lines: list[dict[str, Any]]) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall, CPU) lines per second of the command and of a JSON echo over the same file."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "claims.jsonl"
        source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        script = str(Path(sys.executable).parent / "settlement")
        command = _timed([script, "adjudicate", "--policy", "liaocheng-2024"], source)
        baseline = _timed([sys.executable, "-c", ECHO], source)
    count = len(lines)
    return (count / command[0], count / command[1]), (count / baseline[0], count / baseline[1])


def _timed(argv: list[str], source: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of a child process reading ``source``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with source.open("rb") as stdin:
        started = time.perf_counter()
        subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    lines = claim_lines(ENGINE_CLAIMS)
    claims = [(parse_claim(line), HospitalProfile(**line["hospital"])) for line in lines]
    # Best of three: the machine is shared, and the best run is the least disturbed one.
    engine = max(engine_rate(claims) for _ in range(3))
    wired = max(engine_rate(claims, wire=True) for _ in range(3))
    baseline = max(arithmetic_rate(claims) for _ in range(3))
    print(f"{len(claims):,} claims, CPU time of one core (best of 3)")
    print(
        f"  engine: adjudicate + post        {engine:>9,.0f} claims/s  "
        f"ratio {engine / baseline:.2f} to a bare Decimal waterfall ({baseline:,.0f}/s)"
    )
    print(f"  engine + receipt + to_wire       {wired:>9,.0f} claims/s  "
          f"ratio {wired / baseline:.2f}")  # fmt: skip
    (wall, cpu), (echo_wall, echo_cpu) = command_rates(lines[:COMMAND_LINES])
    print(f"settlement adjudicate, {COMMAND_LINES:,} lines end to end (process start included)")
    print(f"  command   {wall:>9,.0f} lines/s wall  {cpu:>9,.0f} lines/s CPU  "
          f"ratio {cpu / echo_cpu:.2f} to json.loads + json.dumps "
          f"({echo_wall:,.0f}/s wall, {echo_cpu:,.0f}/s CPU)")  # fmt: skip


if __name__ == "__main__":
    main()
