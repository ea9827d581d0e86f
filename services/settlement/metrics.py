"""Prometheus metrics of the settlement service (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.relay import RelayMetrics

SETTLEMENTS = Counter(
    "settlement_settlements_total",
    "HIS settlement calls by claim type and outcome (settled, replayed, rejected, reversed…)",
    ["med_type", "outcome"],
)
FUND_PAID = Counter(
    "settlement_fund_paid_yuan_total",
    "Amounts per fund (hifp_pay, hifmi_pay, maf_pay) posted by settlements and taken back by"
    " reversals (entry), in yuan",
    ["fund", "entry"],
)
HTTP_REQUESTS = Counter(
    "settlement_http_requests",
    "HTTP answers by method, route template and status (shared.prometheus.CountRequests)",
    ["method", "route", "status"],
)
ADJUDICATION_SECONDS = Histogram(
    "settlement_adjudication_seconds",
    "Time to settle one claim: lock, adjudicate, ledger, commit",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
CONSUMER_EVENTS = Counter(
    "settlement_consumer_events_total",
    "enrollment.events messages by outcome (applied, duplicate, parked, dead_lettered)",
    ["outcome"],
)
CONSUMER_LAG = Gauge(
    "settlement_consumer_lag",
    "Messages behind the end of enrollment.events, per partition",
    ["partition"],
)
GAPS_WAITING = Gauge(
    "settlement_consumer_gaps_waiting",
    "Persons whose later events wait for a missing stream_version",
)
# The outbox relay of the consumer process (dead letters for enrollment.events.dlq).
RELAY = RelayMetrics(
    published=Counter(
        "settlement_outbox_published", "Outbox messages (dead letters) acknowledged by the broker"
    ),
    lag_messages=Gauge(
        "settlement_relay_lag_messages", "Outbox messages committed but not yet published"
    ),
    lag_seconds=Gauge(
        "settlement_relay_lag_seconds", "Age of the oldest unpublished outbox message, in seconds"
    ),
    errors=Counter("settlement_relay_errors", "Broker or database errors seen by the relay"),
)
