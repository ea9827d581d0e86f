"""A settled claim as the ledger keeps it for running again (SPEC §10 what-if).

The form is a ``settlement adjudicate`` input line: the SPEC §6 claim body, the hospital's
profile at settlement (``hospital``) and the person's identity and medical-assistance flag on the
claim date (``person``) — everything the engine reads. Eligibility is not part of it: a settled
claim was eligible, and a what-if asks what the funds would pay, not who would be insured.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from services.settlement.engine import Claim, Coverage, HospitalProfile, MedType
from shared.events import Identity
from shared.money import fen_text
from shared.trusted import check, trusted


class Rerun(NamedTuple):
    """What the engine needs to adjudicate a settled claim again."""

    claim: Claim
    hospital: HospitalProfile
    coverage: Coverage


def claim_line(claim: Claim, hospital: HospitalProfile, coverage: Coverage) -> str:
    """The claim as the ledger stores it: a compact ``settlement adjudicate`` line."""
    return json.dumps(
        {
            "psn_no": claim.psn_no,
            "mdtrt_id": claim.mdtrt_id,
            "med_type": str(claim.med_type),
            "begntime": claim.begntime.isoformat(),
            "endtime": claim.endtime.isoformat(),
            "medfee_sumamt": fen_text(claim.medfee_sumamt),
            "fulamt_ownpay_amt": fen_text(claim.fulamt_ownpay_amt),
            "overlmt_selfpay": fen_text(claim.overlmt_selfpay),
            "preselfpay_amt": fen_text(claim.preselfpay_amt),
            "dise_codg": claim.dise_codg,
            "hospital": {
                "level": hospital.level,
                "public": hospital.public,
                "primary_care": hospital.primary_care,
            },
            "person": {
                "identity": str(coverage.identity),
                "medical_assistance": coverage.medical_assistance,
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


_MED_TYPES = {str(t): t for t in MedType}


def _built(values: dict[str, Any]) -> Claim:
    # What ``Claim.model_construct`` does (every field given, none validated) at a fifth of its
    # cost, which was a fifth of a what-if's time per claim.
    return trusted(Claim, values)


check(Claim)


# Profiles and persons repeat endlessly (three levels, two flags; a few identities): one object
# each, built once.
_HOSPITALS: dict[tuple[int, bool, bool], HospitalProfile] = {}
_PERSONS: dict[tuple[str, bool], Coverage] = {}


def read_line(text: str) -> Rerun:
    """A stored line back as engine inputs.

    The line was written from a validated claim (or by migration 0004 from a stored answer), so
    it is taken as it is, without a second validation: a what-if reads a million of them.
    """
    data: dict[str, Any] = json.loads(text)
    claim = _built(
        {
            "psn_no": data["psn_no"],
            "mdtrt_id": data["mdtrt_id"],
            "med_type": _MED_TYPES[data["med_type"]],
            "begntime": datetime.fromisoformat(data["begntime"]),
            "endtime": datetime.fromisoformat(data["endtime"]),
            "medfee_sumamt": Decimal(data["medfee_sumamt"]),
            "fulamt_ownpay_amt": Decimal(data["fulamt_ownpay_amt"]),
            "overlmt_selfpay": Decimal(data["overlmt_selfpay"]),
            "preselfpay_amt": Decimal(data["preselfpay_amt"]),
            "dise_codg": data.get("dise_codg"),
        }
    )
    h = data["hospital"]
    key = (int(h["level"]), bool(h["public"]), bool(h["primary_care"]))
    hospital = _HOSPITALS.get(key)
    if hospital is None:
        hospital = _HOSPITALS[key] = HospitalProfile(
            level=key[0], public=key[1], primary_care=key[2]
        )
    p = data.get("person") or {}
    who = (str(p.get("identity", "ordinary")), bool(p.get("medical_assistance", False)))
    coverage = _PERSONS.get(who)
    if coverage is None:
        coverage = _PERSONS[who] = Coverage(identity=Identity(who[0]), medical_assistance=who[1])
    return Rerun(claim, hospital, coverage)
