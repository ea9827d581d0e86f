"""Prometheus metrics of the enrollment service (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_APPENDED = Counter(
    "enrollment_events_appended", "Events committed to the event store by this process."
)
EVENTS_PUBLISHED = Counter(
    "enrollment_events_published", "Outbox messages acknowledged by the broker (all topics)."
)
RELAY_LAG_MESSAGES = Gauge(
    "enrollment_relay_lag_messages", "Outbox messages committed but not yet published."
)
RELAY_LAG_SECONDS = Gauge(
    "enrollment_relay_lag_seconds", "Age of the oldest unpublished outbox message, in seconds."
)
RELAY_ERRORS = Counter("enrollment_relay_errors", "Broker or database errors seen by the relay.")
HTTP_REQUESTS = Counter(
    "enrollment_http_requests", "HTTP requests answered.", ["method", "route", "status"]
)
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
BROKER_LOSSES = Counter(
    "enrollment_broker_losses",
    "Times the relay found the broker had lost messages it had acknowledged (a republish follows).",
)
EVENTS_REPUBLISHED = Counter(
    "enrollment_events_republished",
    "Stored events queued again for the broker, by cause (broker_loss, operator, heal).",
    ["cause"],
)
REPUBLISH_BACKLOG = Gauge(
    "enrollment_republish_backlog",
    "Event-store positions the open republish job has still to queue (as the relay last saw).",
)
RECONCILIATION_DIFFERENCES = Gauge(
    "enrollment_reconciliation_differences",
    "Persons on whom settlement and enrollment differed at the last reconciliation, by kind"
    " (behind, missing, ahead, unknown, in_flight).",
    ["kind"],
)
RECONCILIATION_LAST_RUN = Gauge(
    "enrollment_reconciliation_last_run_timestamp_seconds",
    "When the last reconciliation finished (Unix time; 0: never).",
)
