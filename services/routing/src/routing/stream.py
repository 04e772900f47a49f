"""The console stream: routing's own events, read back from its outbox, as Server-Sent Events.

Every event routing publishes (routed, call status, unit status) is an outbox row with a growing
id, so the row id is the SSE event id and ``Last-Event-ID`` resumes exactly where a client left
off, whether or not Kafka is up. Ids can commit out of order under PostgreSQL (a lower id still
in flight while a higher one is visible), so the reader stops at a gap until it is filled or old
enough to be a rolled-back transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from routing.models import RoutingOutbox

__all__ = ["GAP_GRACE", "StreamEvent", "events_after", "format_sse", "latest_event_id", "next_events"]

GAP_GRACE = timedelta(seconds=5)
"""How long a missing id may hold back later events before it is taken for a rollback."""

EVENT_NAMES = {
    "org.dispatch.call.routed.v1": "call.routed",
    "org.dispatch.call.status.v1": "call.status",
    "org.dispatch.unit.status.v1": "unit.status",
}


@dataclass(frozen=True)
class StreamEvent:
    """One outbox row as the stream sends it."""

    id: int
    name: str
    data: str
    created_at: datetime


def next_events(rows: Sequence[StreamEvent], *, after: int, now: datetime) -> list[StreamEvent]:
    """The rows that can go out in order after ``after``: up to the first young gap."""
    ready: list[StreamEvent] = []
    expected = after + 1
    for row in rows:
        if row.id != expected and now - row.created_at < GAP_GRACE:
            break  # a lower id may still commit; wait for it
        ready.append(row)
        expected = row.id + 1
    return ready


def events_after(engine: Engine, after: int, *, limit: int = 200) -> list[StreamEvent]:
    """Outbox rows with an id above ``after``, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(RoutingOutbox)
            .where(col(RoutingOutbox.id) > after)
            .order_by(col(RoutingOutbox.id))
            .limit(limit)
        ).all()
        return [
            StreamEvent(
                id=row.id,
                name=EVENT_NAMES.get(row.ce_type, row.ce_type),
                data=row.payload,
                created_at=row.created_at,
            )
            for row in rows
            if row.id is not None
        ]


def latest_event_id(engine: Engine) -> int:
    """The id of the newest event, where a stream without ``Last-Event-ID`` starts."""
    with Session(engine) as session:
        newest = session.exec(select(func.max(RoutingOutbox.id))).one()
        return int(newest or 0)


def format_sse(event: StreamEvent) -> str:
    """One event in the text/event-stream format."""
    data = json.dumps(json.loads(event.data), separators=(",", ":"))  # one line, whatever was stored
    return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n"
