"""Refusals of the settlement service beyond adjudication's own; HTTP status chosen in api/."""

from __future__ import annotations

from shared.errors import CodedError


class ServiceError(CodedError):
    """A refusal of the service layer: a stable ``code`` and a readable ``message``."""


class Unauthenticated(ServiceError):
    """No key, or a key of no active hospital."""


class NotFound(ServiceError):
    """No such thing — or not this hospital's (we do not say which)."""


class Conflict(ServiceError):
    """The request clashes with what is already recorded (key reuse, settled, reversed)."""


class InvalidRequest(ServiceError):
    """A request the service cannot take as sent (missing key, not a JSON object…)."""
