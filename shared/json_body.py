"""A request body as JSON, exactly, or the reason it is not JSON a service can take.

The one JSON reader of the bodies the settlement service reads itself (the HIS API's claims, the
NHSA envelope, FHIR resources): decimals stay exact (a float would lose fen), and what
``json.loads`` takes but no service can use is refused as the client's mistake, not left to fail
later as a 500: arrays nested deeper than the parser goes, a lone UTF-16 surrogate (no character:
it cannot be hashed, stored or answered as UTF-8).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

# A surrogate escaped in a JSON string: a pair is a character beyond the BMP (an emoji), a lone
# one is no character at all. Looked for in the bytes first, so a body without one costs nothing.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class NotJson(ValueError):
    """The body is not JSON a service can take; the message says why."""


def loads(body: bytes) -> Any:
    """The body as JSON (decimals as ``Decimal``), or ``NotJson``."""
    try:
        document = json.loads(body, parse_float=Decimal)
    except ValueError:  # not JSON, not UTF-8, or an integer of more than 4300 digits
        raise NotJson("the body is not JSON") from None
    except RecursionError:
        raise NotJson("the body is JSON nested too deeply") from None
    if _SURROGATE_ESCAPE.search(body) and not _is_text(document):
        raise NotJson("the body holds a lone surrogate (\\uD800-\\uDFFF)")
    return document


def _is_text(document: Any) -> bool:
    try:
        json.dumps(document, ensure_ascii=False, default=str).encode()
    except UnicodeEncodeError:
        return False
    return True
