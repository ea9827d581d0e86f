"""Text from clients that every store and every answer can hold.

PostgreSQL ``text`` cannot hold U+0000 at all: a NUL reaching a query is a database error, a 500
for what is the client's mistake. So text fields and parameters declare one of these patterns
(JSON Schema and pydantic read them alike, so the OpenAPI document says it too), and a refusal
names the field with ``CONTROL_CHARACTERS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""Identifiers, codes and names: no control character (the lists refuse them too)."""

NO_NUL = r"^[^\x00]*$"
"""Free text (a reason, a reference), where a line break is fair: no U+0000."""

CONTROL_CHARACTERS = "must not contain control characters"


def pattern_reason(error: Mapping[str, Any]) -> str | None:
    """``CONTROL_CHARACTERS`` when a pydantic error is a mismatch of a pattern above (which is
    better named than quoted), else None."""
    if error.get("type") == "string_pattern_mismatch":
        if (error.get("ctx") or {}).get("pattern") in (PRINTABLE, NO_NUL):
            return CONTROL_CHARACTERS
    return None


def reason(error: Mapping[str, Any]) -> str:
    """A pydantic error's readable reason (without pydantic's "Value error, ")."""
    return pattern_reason(error) or str(error.get("msg", "invalid")).removeprefix("Value error, ")
