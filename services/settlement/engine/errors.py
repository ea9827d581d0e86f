"""The refusals of adjudication: a stable code and a readable message (SPEC §5)."""

from __future__ import annotations

from enum import StrEnum

from shared.errors import CodedError


class RejectionCode(StrEnum):
    """Stable refusal codes, in the order SPEC §5 checks them."""

    INVALID_JSON = "INVALID_JSON"  # the batch command: a line that is not JSON
    INVALID_REQUEST = "INVALID_REQUEST"  # a field missing or of the wrong shape
    INVALID_AMOUNTS = "INVALID_AMOUNTS"
    INVALID_DATES = "INVALID_DATES"
    NO_POLICY = "NO_POLICY"  # no policy file covers the person's region and the claim's year
    UNKNOWN_PERSON = "UNKNOWN_PERSON"
    NOT_ENROLLED = "NOT_ENROLLED"
    PREMIUM_UNPAID = "PREMIUM_UNPAID"
    ADMITTED_AFTER_DEATH = "ADMITTED_AFTER_DEATH"
    SETTLEMENT_DEADLINE_PASSED = "SETTLEMENT_DEADLINE_PASSED"
    DISEASE_NOT_COVERED = "DISEASE_NOT_COVERED"
    NOT_PRIMARY_CARE = "NOT_PRIMARY_CARE"


class Rejected(CodedError):
    """A claim the engine refuses; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: RejectionCode | str, message: str) -> None:
        super().__init__(str(code), message)
