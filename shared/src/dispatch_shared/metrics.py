"""Prometheus metrics shared by the services: their plumbing, and the call's journey through them.

The journey metrics (triage decisions, seconds from receipt to triaged, routed and assigned) are
observed by two services and read together by the SLO rules, so they are defined here; a
service's own state (routing's queue and units, outcomes) is defined in that service.
``on_commit`` records a metric only once the change it describes has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from dispatch_shared.cloudevents import FaultReason
from dispatch_shared.events import CallTriaged

log = logging.getLogger(__name__)

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
"""Give each consumed topic its series at start-up (``declare_dead_letters``), so the first dead
letter is an increase from 0 that ``increase()`` sees, not a series that appears at 1."""
CONSUMER_RESTARTS = Counter(
    "dispatch_consumer_restarts_total",
    "Times the consume loop died on an unexpected error and was restarted.",
)


# Seconds from a call's receipt: fine steps up to the 60 s processing standard (NENA/NFPA), so
# the standard and the 90th percentile around it read off bucket edges; coarse up to ten minutes.
CALL_SECONDS_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600)

TRIAGE_DECISIONS = Counter(
    "dispatch_triage_decisions_total",
    "Decisions triage published (every revision of a call), by route, threat level and the "
    "policy rule that decided (R0-R6 of docs/triage-policy.md).",
    ["route", "threat_level", "rule"],
)
CALL_TRIAGED_SECONDS = Histogram(
    "dispatch_call_triaged_seconds",
    "Seconds from a call's receipt (received_at) to triage's decision on its first revision.",
    ["route"],
    buckets=CALL_SECONDS_BUCKETS,
)
CALL_ROUTED_SECONDS = Histogram(
    "dispatch_call_routed_seconds",
    "Seconds from a call's receipt to routing's first decision on it (a unit assigned or queued).",
    ["route"],
    buckets=CALL_SECONDS_BUCKETS,
)
CALL_ASSIGNED_SECONDS = Histogram(
    "dispatch_call_assigned_seconds",
    "Seconds from a call's receipt to its first unit, whether assigned at once or after a wait in "
    "the queue; by the route in force when the unit was assigned.",
    ["route"],
    buckets=CALL_SECONDS_BUCKETS,
)


def declare_dead_letters(topics: Iterable[str]) -> None:
    """Start ``dispatch_dead_letters_total`` at 0 for each Kafka topic name and every ``FaultReason``."""
    for topic in topics:
        for reason in FaultReason:
            DEAD_LETTERS.labels(topic, reason.value)


def seconds_between(start: datetime, end: datetime) -> float:
    """``end - start`` in seconds (aware datetimes), never below 0: hosts' clocks may differ a little."""
    return max((end - start).total_seconds(), 0.0)


def record_triaged(triaged: CallTriaged) -> None:
    """Count a published decision; a call's first revision also observes receipt to triaged."""
    decision = triaged.decision
    TRIAGE_DECISIONS.labels(decision.route.value, decision.threat_level.value, decision.rule).inc()
    if triaged.revision == 1:
        CALL_TRIAGED_SECONDS.labels(decision.route.value).observe(
            seconds_between(triaged.received_at, triaged.triaged_at)
        )


_ON_COMMIT = "dispatch_shared.metrics.on_commit"


def on_commit(session: Session, observe: Callable[[], None]) -> None:
    """Call ``observe`` when ``session``'s outermost transaction commits; drop it if it rolls back.

    So a change retried after a rollback (a redelivered event, a lost race) is counted once.
    """
    session.info.setdefault(_ON_COMMIT, []).append(observe)


@event.listens_for(Session, "after_commit")
def _observe_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the transaction around it may still roll back
    for observe in session.info.pop(_ON_COMMIT, []):
        try:
            observe()
        except Exception as exc:  # noqa: BLE001 - the change has committed; a metric must not undo it
            log.warning("metric not recorded", extra={"error": exc.__class__.__name__})


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction: nothing of it happened
        session.info.pop(_ON_COMMIT, None)
