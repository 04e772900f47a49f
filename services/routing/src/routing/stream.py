"""The console stream: routing's own events, read back from its outbox, as Server-Sent Events.

Every event routing publishes (routed, call status, unit status) is an outbox row with a growing
id, so the row id is the SSE event id and ``Last-Event-ID`` resumes exactly where a client left
off, whether or not Kafka is up.

Ids can commit out of order under PostgreSQL: a transaction takes id N, then waits (on a unit's
row lock, say) while another takes N+1 and commits. A reader that passed N+1 would never send N.
So a reader stops at a missing id until nothing can still fill it: it notes the transactions
writing the outbox just after it saw the gap (``pg_locks``: every writer holds the outbox's
RowExclusiveLock from before it draws an id until it ends) and waits until each of them has
ended. The holder of N took its id before N+1 committed, so it is among them; once they are all
gone, a still-missing id was rolled back (or purged) and is passed over. Time alone never skips
an id: a long transaction holds the stream back as long as it stays open, and loses nothing.
SQLite runs one writer at a time, so an id missing there is always final.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from routing.models import RoutingOutbox

__all__ = ["PAGE_SIZE", "StreamCursor", "StreamEvent", "format_sse", "next_events"]

PAGE_SIZE = 200
"""Most rows one poll reads."""

LOOKBACK_IDS = 1000
"""How far below the newest id a stream without ``Last-Event-ID`` looks for ids still in flight."""

EVENT_NAMES = {
    "org.dispatch.call.routed.v1": "call.routed",
    "org.dispatch.call.status.v1": "call.status",
    "org.dispatch.unit.status.v1": "unit.status",
}

# Transactions that may still add outbox rows: those holding the table's write lock, other than
# this session. Prepared transactions have no pid and count too.
_OUTBOX_WRITERS = text(
    "SELECT DISTINCT coalesce(pid::text, '') || '/' || virtualtransaction FROM pg_locks "
    "WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND relation = CAST(:table AS regclass) AND pid IS DISTINCT FROM pg_backend_pid()"
)


@dataclass(frozen=True)
class StreamEvent:
    """One outbox row as the stream sends it."""

    id: int
    name: str
    data: str
    created_at: datetime


def next_events(
    rows: Sequence[StreamEvent], *, after: int, gap_is_final: Callable[[int], bool]
) -> tuple[list[StreamEvent], int | None]:
    """The rows (ascending ids above ``after``) that can go out in order, and the gap holding the rest.

    A missing id ``n`` stops the walk unless ``gap_is_final(n)`` says no transaction can still
    commit it. Returns the rows to send and the first missing id that stopped the walk (None
    when nothing did).
    """
    ready: list[StreamEvent] = []
    expected = after + 1
    for row in rows:
        if row.id != expected and not gap_is_final(expected):
            return ready, expected
        ready.append(row)
        expected = row.id + 1
    return ready, None


@dataclass(frozen=True)
class _Gap:
    """A missing id the stream waits on, and the outbox writers that may still commit it."""

    start: int
    writers: frozenset[str] | None  # None: not looked up yet


class StreamCursor:
    """One stream's place in the outbox: what it has sent, and the gap it may be waiting on.

    ``poll`` is blocking (run it in a worker thread); one cursor serves one stream at a time.
    """

    def __init__(self, engine: Engine, *, after: int, passed: frozenset[int] = frozenset()) -> None:
        """Start after event id ``after``; ids in ``passed`` are stepped over without sending."""
        self.engine = engine
        self.after = after
        self._passed = passed
        self._gap: _Gap | None = None
        self._postgres = engine.dialect.name == "postgresql"

    @classmethod
    def at_newest(cls, engine: Engine) -> StreamCursor:
        """A cursor that sends only events committed from now on (no ``Last-Event-ID``).

        On PostgreSQL, while outbox writers are in flight, ids below the newest may still
        commit: the cursor then starts below the lowest recent missing id and passes over
        (without sending) what was already there, so a late commit still goes out.
        """
        with Session(engine) as session:
            newest = int(session.exec(select(func.max(RoutingOutbox.id))).one() or 0)
            if engine.dialect.name != "postgresql" or newest == 0:
                return cls(engine, after=newest)
            present = set(
                session.exec(
                    select(RoutingOutbox.id).where(col(RoutingOutbox.id) > newest - LOOKBACK_IDS)
                ).all()
            )
            if not _outbox_writers(session):
                return cls(engine, after=newest)
        missing = [n for n in range(max(newest - LOOKBACK_IDS + 1, 1), newest) if n not in present]
        if not missing:
            return cls(engine, after=newest)
        return cls(engine, after=missing[0] - 1, passed=frozenset(n for n in present if n is not None))

    def poll(self, limit: int = PAGE_SIZE) -> list[StreamEvent]:
        """The events that can go out now, in id order; the cursor moves past them."""
        with Session(self.engine) as session:
            if self._postgres and self._gap is not None:
                # Looked up before the rows are read: a writer that ends after this still has its
                # commit seen by the read below.
                writers = _outbox_writers(session)
                known = self._gap.writers
                self._gap = _Gap(self._gap.start, writers if known is None else known & writers)
            rows = _rows_after(session, self.after, limit)
        ready, gap = next_events(rows, after=self.after, gap_is_final=self._gap_is_final)
        if ready:
            self.after = ready[-1].id
        if gap is None:
            self._gap = None
        elif self._gap is None or self._gap.start != gap:
            self._gap = _Gap(gap, None)
        sending = [event for event in ready if event.id not in self._passed]
        if self._passed and self.after >= max(self._passed):
            self._passed = frozenset()
        return sending

    @property
    def waiting_on(self) -> int | None:
        """The missing id the stream is holding at, if any."""
        return self._gap.start if self._gap is not None else None

    def _gap_is_final(self, missing: int) -> bool:
        if not self._postgres:
            return True  # one writer at a time: whatever is missing was rolled back or purged
        return self._gap is not None and self._gap.start == missing and self._gap.writers == frozenset()


def _outbox_writers(session: Session) -> frozenset[str]:
    """Transactions (other than this session's) that hold the outbox's write lock now."""
    rows = session.connection().execute(_OUTBOX_WRITERS, {"table": RoutingOutbox.__tablename__})
    return frozenset(str(row[0]) for row in rows)


def _rows_after(session: Session, after: int, limit: int) -> list[StreamEvent]:
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


def format_sse(event: StreamEvent) -> str:
    """One event in the text/event-stream format."""
    data = json.dumps(json.loads(event.data), separators=(",", ":"))  # one line, whatever was stored
    return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n"
