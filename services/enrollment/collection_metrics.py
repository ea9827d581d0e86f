"""Prometheus metrics of the collection side (served with the others at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

TAX_MESSAGES = Counter(
    "enrollment_tax_messages",
    "Tax-bureau messages handled, by outcome (applied, duplicate, unmatched).",
    ["outcome"],
)
LIST_ROWS = Counter(
    "enrollment_list_rows",
    "School-list rows handled, by outcome (registered, already_registered, rejected).",
    ["outcome"],
)
