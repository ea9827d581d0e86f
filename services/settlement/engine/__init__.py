"""The settlement engine: pure adjudication of claims under a policy (SPEC §5).

No database, web or broker here: the settlement service and the ``settlement adjudicate``
batch command both drive it.
"""

from services.settlement.engine.accumulator import Accumulator
from services.settlement.engine.adjudication import adjudicate, check_claim
from services.settlement.engine.caps import caps_remaining
from services.settlement.engine.claim import Claim, HospitalProfile, MedType, parse_claim
from services.settlement.engine.coverage import Coverage
from services.settlement.engine.errors import Rejected, RejectionCode
from services.settlement.engine.policy import Policy, PolicyError, load_policy
from services.settlement.engine.registry import PolicyRegistry
from services.settlement.engine.result import (
    ASSISTANCE_FUND,
    BASIC_FUND,
    CATASTROPHIC_FUND,
    Adjudication,
    FundPayment,
)

__all__ = [
    "ASSISTANCE_FUND",
    "BASIC_FUND",
    "CATASTROPHIC_FUND",
    "Accumulator",
    "Adjudication",
    "Claim",
    "Coverage",
    "FundPayment",
    "HospitalProfile",
    "MedType",
    "Policy",
    "PolicyError",
    "PolicyRegistry",
    "Rejected",
    "RejectionCode",
    "adjudicate",
    "caps_remaining",
    "check_claim",
    "load_policy",
    "parse_claim",
]
