"""``settlement adjudicate --policy NAME``: claims as JSON lines in, one result line out each.

Input, one JSON object a line: the SPEC §6 claim body plus ``hospital: {level, public,
primary_care}`` and, optionally, ``person: {identity, medical_assistance}`` (default: an ordinary
person without the assistance flag) to exercise the special-person rules. Eligibility is not
checked: the batch has no enrollment data. Output, one line per input line: the result with
``setl_id`` ``"B<line number>"`` and the person's accumulators after it, or
``{"rejected": {"code": ..., "message": ...}}`` — a blank line too is answered (``INVALID_JSON``),
so output line N always answers input line N.

Accumulators are carried per (``psn_no``, insurance year) from line to line, so memory grows with
the number of people, never with the number of lines: input is read and answered line by line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

import click
from pydantic import BaseModel, ConfigDict, ValidationError

from services.settlement.engine import (
    Accumulator,
    Coverage,
    HospitalProfile,
    Policy,
    PolicyError,
    Rejected,
    RejectionCode,
    adjudicate,
    load_policy,
    parse_claim,
)
from shared.events import Identity

FLUSH_EVERY = 1024
_FIRST_OF_YEAR = Accumulator.zero()


class Batch:
    """The state of one run: a policy and the accumulators of every (person, year) seen."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.accumulators: dict[tuple[str, int], Accumulator] = {}

    def answer(self, line: bytes | str, number: int) -> dict[str, Any]:
        """The output object for one input line; posts a settled claim to its accumulator."""
        try:
            request = _json_object(line)
            hospital = _hospital(request)
            coverage = _person(request)
            claim = parse_claim(request)
            key = (claim.psn_no, claim.insurance_year)
            before = self.accumulators.get(key, _FIRST_OF_YEAR)
            result = adjudicate(self.policy, claim, hospital, before, coverage)
        except Rejected as refusal:
            return {"rejected": refusal.to_wire()}
        after = result.accumulator_after
        self.accumulators[key] = after
        return result.to_wire(setl_id=f"B{number}")

    def run(self, lines: Iterable[bytes | str]) -> Iterator[str]:
        """One JSON text per input line, in order."""
        for number, line in enumerate(lines, start=1):
            yield json.dumps(self.answer(line, number), ensure_ascii=False, separators=(",", ":"))


def _json_object(line: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(line, parse_float=Decimal)
    except ValueError as exc:  # JSONDecodeError and undecodable bytes
        raise Rejected(RejectionCode.INVALID_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Rejected(RejectionCode.INVALID_REQUEST, "a claim line is a JSON object")
    return value


def _hospital(request: dict[str, Any]) -> HospitalProfile:
    if "hospital" not in request:
        raise Rejected(RejectionCode.INVALID_REQUEST, "hospital: field required")
    try:
        return HospitalProfile.model_validate(request["hospital"])
    except ValidationError as exc:
        raise Rejected(RejectionCode.INVALID_REQUEST, _first_error("hospital", exc)) from None


def _person(request: dict[str, Any]) -> Coverage | None:
    person = request.get("person")
    if person is None:
        return None
    try:
        return Coverage(**_PersonModel.model_validate(person).model_dump())
    except ValidationError as exc:
        raise Rejected(RejectionCode.INVALID_REQUEST, _first_error("person", exc)) from None


def _first_error(prefix: str, exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    field = ".".join([prefix, *(str(part) for part in error["loc"])])
    return f"{field}: {str(error['msg']).removeprefix('Value error, ')}"


class _PersonModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity: Identity = Identity.ORDINARY
    medical_assistance: bool = False


@click.command("adjudicate")
@click.option(
    "--policy",
    "policy_name",
    default="liaocheng-2024",
    show_default=True,
    help="A shipped policy's name, or the path of a policy TOML file.",
)
@click.option(
    "--line-buffered",
    is_flag=True,
    help="Flush after every result (for a client that waits for each answer).",
)
def adjudicate_command(policy_name: str, line_buffered: bool) -> None:
    """Adjudicate claims read as JSON lines on stdin; write one result line each on stdout."""
    try:
        policy = load_policy(policy_name)
    except (PolicyError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    source: IO[bytes] = sys.stdin.buffer
    sink: IO[bytes] = sys.stdout.buffer
    line_buffered = line_buffered or sys.stdin.isatty()
    for count, text in enumerate(Batch(policy).run(source), start=1):
        sink.write(text.encode("utf-8") + b"\n")
        if line_buffered or count % FLUSH_EVERY == 0:
            sink.flush()
    sink.flush()
