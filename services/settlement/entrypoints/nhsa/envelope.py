"""The national platform's message envelope (SPEC §9): the request read, the answer written.

Every answer is HTTP 200, as the platform's are: ``infcode`` 0 with the ``output``, or −1 with
``err_msg`` "CODE: message" (the stable code first) and an empty output. Times are China time:
``refmsg_time`` when the request came, ``respond_time`` when it is answered.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.settlement.errors import InvalidRequest
from shared import json_body
from shared.errors import CodedError
from shared.text import CONTROL_CHARACTERS, PRINTABLE

FIELDS = (
    "infno",
    "msgid",
    "mdtrtarea_admvs",
    "insuplc_admdvs",
    "recer_sys_code",
    "infver",
    "opter_type",
    "opter",
    "opter_name",
    "inf_time",
    "fixmedins_code",
    "fixmedins_name",
    "sign_no",
)
"""The envelope's fields besides ``input``: every one must be there (a string, maybe empty)."""
NOT_EMPTY = ("infno", "msgid", "fixmedins_code")
MAX_MSGID = 255  # the ledger's idempotency-key column: 2304's msgid is the key
MAX_INFNO = 8  # the message log's infno column
_PRINTABLE = re.compile(PRINTABLE)
CHINA = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A request as the platform sends it."""

    fields: dict[str, str]
    input: dict[str, Any]

    @property
    def infno(self) -> str:
        return self.fields["infno"]

    @property
    def msgid(self) -> str:
        return self.fields["msgid"]

    @property
    def fixmedins_code(self) -> str:
        return self.fields["fixmedins_code"]


def invalid_envelope(message: str) -> InvalidRequest:
    return InvalidRequest("INVALID_ENVELOPE", message)


def parse(body: bytes) -> Envelope:
    """The envelope of a request body; ``INVALID_ENVELOPE`` names what is wrong."""
    try:
        document = json_body.loads(body)
    except json_body.NotJson as exc:
        raise invalid_envelope(str(exc)) from None
    if not isinstance(document, dict):
        raise invalid_envelope("the body must be a JSON object (the platform's envelope)")
    fields: dict[str, str] = {}
    for name in FIELDS:
        value = document.get(name)
        if value is None:
            raise invalid_envelope(f"{name}: field required")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # some HIS send infno as a number
        if not isinstance(value, str):
            raise invalid_envelope(f"{name}: must be a string")
        if not _PRINTABLE.match(value):  # a NUL is a database error, not a message id
            raise invalid_envelope(f"{name}: {CONTROL_CHARACTERS}")
        fields[name] = value.strip()
    for name in NOT_EMPTY:
        if not fields[name]:
            raise invalid_envelope(f"{name}: must not be empty")
    if len(fields["msgid"]) > MAX_MSGID:
        raise invalid_envelope(f"msgid: longer than {MAX_MSGID} characters")
    payload = document.get("input")
    if not isinstance(payload, dict):
        raise invalid_envelope("input: must be a JSON object")
    return Envelope(fields, payload)


def china_now() -> datetime:
    """Now on the city's wall clock (naive)."""
    return (datetime.now(UTC) + CHINA).replace(tzinfo=None)


def stamp(moment: datetime) -> str:
    """The platform's message time: yyyyMMddHHmmssSSS (by hand: strftime costs more than the
    rest of the envelope)."""
    m = moment
    return (
        f"{m.year:04d}{m.month:02d}{m.day:02d}{m.hour:02d}{m.minute:02d}{m.second:02d}"
        f"{m.microsecond // 1000:03d}"
    )


# The platform's answer id: the region, the time, then this process and a counter (unique
# without a random draw per answer).
_ANSWERS = itertools.count()
_PROCESS = os.getpid() % 1000


def answer(
    admdvs: str,
    received: datetime,
    output: dict[str, Any] | None = None,
    refusal: CodedError | None = None,
) -> bytes:
    """The platform's answer: the output, or the refusal as ``infcode`` −1."""
    responded = china_now()
    time_of_answer = stamp(responded)
    head = {
        "infcode": -1 if refusal is not None else 0,
        "inf_refmsgid": f"{admdvs}{time_of_answer[:14]}{_PROCESS:03d}"
        f"{next(_ANSWERS) % 10_000_000:07d}",
        "refmsg_time": stamp(received),
        "respond_time": time_of_answer,
        "err_msg": f"{refusal.code}: {refusal.message}" if refusal is not None else "",
    }
    body = output if refusal is None and output is not None else {}
    # The output is most of the answer: dumped once, then the envelope's head put before it.
    return b"".join(
        (
            _dumps(head)[:-1],
            b',"output":',
            _dumps(body),
            b"}",
        )
    )


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
