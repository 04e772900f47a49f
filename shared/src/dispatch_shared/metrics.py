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
KAFKA_CONNECTED = Gauge("dispatch_kafka_connected", "1 while the producer is connected to Kafka.")
HANDLER_SECONDS = Histogram("dispatch_event_handler_seconds", "Time to apply one consumed event.", ["topic"])
HTTP_REQUESTS = Counter(
    "dispatch_http_requests_total", "HTTP requests by route and status.", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram("dispatch_http_request_seconds", "HTTP request latency.", ["method", "route"])
