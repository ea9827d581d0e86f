"""The enrollment domain's refusal: a rule said no, with a stable code."""

from __future__ import annotations

from shared.errors import CodedError


class DomainError(CodedError):
    """A rule refused a command; ``code`` is stable (API clients switch on it)."""
