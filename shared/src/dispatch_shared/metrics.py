"""Prometheus metrics shared by the services' plumbing (the services add their own domain metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "dispatch_events_published_total", "Events the outbox relay delivered to Kafka.", ["topic"]
)
EVENTS_CONSUMED = Counter(
    "dispatch_events_consumed_total",
    "Events consumed, by outcome (processed, duplicate, dead_lettered).",
    ["topic", "outcome"],
)
OUTBOX_BACKLOG = Gauge("dispatch_outbox_backlog", "Events written but not yet delivered to Kafka.")
OUTBOX_OLDEST_SECONDS = Gauge(
    "dispatch_outbox_oldest_seconds", "Age of the oldest undelivered event (0 when none)."
)
KAFKA_CONNECTED = Gauge(
    "dispatch_kafka_connected",
    "1 while the producer is up and its last metadata probe (every 2 s) or delivery reached Kafka.",
)
HANDLER_SECONDS = Histogram("dispatch_event_handler_seconds", "Time to apply one consumed event.", ["topic"])
HTTP_REQUESTS = Counter(
    "dispatch_http_requests_total",
    "HTTP responses by method, route template and status, crashes (500) and refused bodies (413) too.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "dispatch_http_request_seconds",
    "HTTP request latency, by method and route template.",
    ["method", "route"],
)
CONSUMER_LAG = Gauge(
    "dispatch_consumer_lag",
    "Records on a partition this service's consumer has not yet processed (end offset minus next offset).",
    ["topic", "partition"],
)
DEAD_LETTERS = Counter(
    "dispatch_dead_letters_total",
    "Records parked on <topic>.dlq, by source topic and reason class (null_header, invalid_body, ...).",
    ["topic", "reason"],
)
CONSUMER_RESTARTS = Counter(
    "dispatch_consumer_restarts_total",
    "Times the consume loop died on an unexpected error and was restarted.",
)
