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
