"""The end state of a mixed load, read from both services' PostgreSQL databases.

``audit`` lists every way the stores differ from what the clients saw acknowledged: each
acknowledged registration is one person with one ``registered`` event, each acknowledged payment
one ``payments`` row and one ``premium-paid`` event, each acknowledged settlement one ledger row
under its hospital and key, and nothing else; settlement applied every event enrollment stored,
each once, and holds each person at enrollment's version; no annual cap is exceeded (SPEC §5).
An empty list is a clean end state.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import psycopg

from tests.support.mixed_load import Acks
from tests.support.stack import Stack

# liaocheng-2024's annual caps (SPEC §5), per person and year.
CAPS = {
    "basic_paid": Decimal("120000"),
    "general_outpatient_paid": Decimal("200"),
    "accident_outpatient_paid": Decimal("1000"),
    "catastrophic_paid": Decimal("400000"),
}


def _rows(conn: psycopg.Connection[Any], query: str) -> list[tuple[Any, ...]]:
    return conn.execute(query).fetchall()  # type: ignore[arg-type]


def _differ(what: str, found: dict[Any, Any], wanted: dict[Any, Any]) -> list[str]:
    """One line per key whose value differs (at most five shown), or nothing."""
    keys = sorted({k for k in found.keys() | wanted.keys() if found.get(k) != wanted.get(k)})
    shown = [f"{k!r}: stored {found.get(k)!r}, wanted {wanted.get(k)!r}" for k in keys[:5]]
    return [f"{what}: {len(keys)} differ ({'; '.join(shown)})"] if keys else []


def _enrollment(conn: psycopg.Connection[Any], acks: Acks) -> list[str]:
    psn_of = {p.certno: p.psn_no for p in acks.persons}
    registered = Counter(
        psn for (psn,) in _rows(conn, "SELECT psn_no FROM events WHERE event_type = 'registered'")
    )
    paid = Counter(
        serial
        for (serial,) in _rows(
            conn,
            "SELECT payload::jsonb ->> 'tax_serial' FROM events WHERE event_type = 'premium-paid'",
        )
    )
    unmatched = _rows(conn, "SELECT count(*) FROM unmatched_payments")[0][0]
    return [
        *_differ("certno_index", dict(_rows(conn, "SELECT certno, psn_no FROM certno_index")),
                 psn_of),
        *_differ("registered events", dict(registered), dict.fromkeys(psn_of.values(), 1)),
        *_differ("payments", dict(_rows(conn, "SELECT tax_serial, psn_no FROM payments")),
                 {serial: psn_of[c] for serial, c in acks.payments.items()}),
        *_differ("premium-paid events", dict(paid), dict.fromkeys(acks.payments, 1)),
        *([f"{unmatched} unmatched tax payments"] if unmatched else []),
    ]  # fmt: skip


def _ledger(conn: psycopg.Connection[Any], acks: Acks) -> list[str]:
    rows = _rows(
        conn,
        "SELECT l.setl_id, h.code, l.idempotency_key FROM ledger l"
        " JOIN hospitals h ON h.id = l.hospital_id WHERE l.entry_type = 'settlement'",
    )
    twice = [setl_id for setl_id, n in Counter(r[0] for r in rows).items() if n > 1]
    keys = Counter((code, key) for _, code, key in rows)
    return [
        *([f"settlements stored twice: {twice[:5]}"] if twice else []),
        *_differ("ledger", {r[0]: (r[1], r[2]) for r in rows}, acks.settlements),
        *[f"key {k} settled {n} times" for k, n in keys.items() if n > 1][:5],
    ]


def _projection(enrollment: psycopg.Connection[Any], settlement: psycopg.Connection[Any]) -> list:
    stored = {eid for (eid,) in _rows(enrollment, "SELECT event_id FROM events")}
    applied = Counter(eid for (eid,) in _rows(settlement, "SELECT event_id FROM processed_events"))
    versions = "SELECT psn_no, max(stream_version) FROM events GROUP BY psn_no"
    waiting = _rows(
        settlement,
        "SELECT (SELECT count(*) FROM pending_events), (SELECT count(*) FROM dead_letters)",
    )[0]
    return [
        *_differ("events applied by settlement", dict(applied), dict.fromkeys(stored, 1)),
        *_differ(
            "coverage versions",
            dict(_rows(settlement, "SELECT psn_no, last_version FROM coverage_persons")),
            dict(_rows(enrollment, versions)),
        ),
        *([f"pending events, dead letters: {waiting}"] if any(waiting) else []),
    ]


def _caps(conn: psycopg.Connection[Any]) -> list[str]:
    names = ", ".join(CAPS)
    over = [
        f"{psn_no} {year} {name} = {value} > {CAPS[name]}"
        for psn_no, year, *values in _rows(conn, f"SELECT psn_no, year, {names} FROM accumulators")
        for name, value in zip(CAPS, values, strict=True)
        if value > CAPS[name]
    ]
    return [f"caps exceeded: {over[:5]}"] if over else []


def caps_reached(stack: Stack) -> int:
    """How many person-years reached the basic or the catastrophic cap (so the check bit)."""
    with psycopg.connect(stack.env["SETTLEMENT_DATABASE_URL"]) as conn:
        return int(
            _rows(
                conn,
                "SELECT count(*) FROM accumulators"
                f" WHERE basic_paid = {CAPS['basic_paid']}"
                f" OR catastrophic_paid = {CAPS['catastrophic_paid']}",
            )[0][0]
        )


def audit(stack: Stack, acks: Acks) -> list[str]:
    """Every difference between the stores and the acknowledgements; [] when clean."""
    with (
        psycopg.connect(stack.env["ENROLLMENT_DATABASE_URL"]) as enrollment,
        psycopg.connect(stack.env["SETTLEMENT_DATABASE_URL"]) as settlement,
    ):
        return [
            *_enrollment(enrollment, acks),
            *_ledger(settlement, acks),
            *_projection(enrollment, settlement),
            *_caps(settlement),
        ]
