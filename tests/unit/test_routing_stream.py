"""The console stream: framing, the walk past missing ids, the cursor on SQLite, stream tokens."""

import json
from pathlib import Path
from uuid import uuid4

import pytest
from dispatch_shared.auth import Role
from dispatch_shared.db import make_engine, migrate, transaction
from routing.app import MIGRATIONS
from routing.models import RoutingOutbox
from routing.stream import StreamCursor, StreamEvent, format_sse, next_events
from routing.stream_tokens import StreamTokens
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from tests.factories import T0

SECRET = b"s" * 32


def event(event_id: int) -> StreamEvent:
    return StreamEvent(
        id=event_id, name="call.routed", data='{"call_id": "c", "status": "queued"}', created_at=T0
    )


def never(_: int) -> bool:
    return False


def test_consecutive_ids_all_go_out() -> None:
    rows = [event(5), event(6), event(7)]
    assert next_events(rows, after=4, gap_is_final=never) == (rows, None)


def test_a_gap_that_may_still_fill_holds_back_what_follows_it() -> None:
    ready, gap = next_events([event(5), event(7), event(8)], after=4, gap_is_final=never)
    assert [e.id for e in ready] == [5] and gap == 6


def test_only_the_gap_known_final_is_passed() -> None:
    rows = [event(5), event(7), event(9)]
    ready, gap = next_events(rows, after=4, gap_is_final=lambda missing: missing == 6)
    assert [e.id for e in ready] == [5, 7] and gap == 8


def test_a_gap_right_after_the_resume_point_counts_too() -> None:
    assert next_events([event(9)], after=4, gap_is_final=never) == ([], 5)
    assert next_events([event(9)], after=4, gap_is_final=lambda missing: missing == 5) == ([event(9)], None)


def test_sse_framing_has_id_event_and_one_line_of_data() -> None:
    text = format_sse(StreamEvent(id=12, name="unit.status", data='{\n "unit_id": "CL-1"\n}', created_at=T0))
    assert text.endswith("\n\n")
    lines = text.strip("\n").split("\n")
    assert lines[:2] == ["id: 12", "event: unit.status"]
    assert len(lines) == 3 and json.loads(lines[2].removeprefix("data: ")) == {"unit_id": "CL-1"}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'routing.db'}")
    migrate(engine, migrations_dir=MIGRATIONS, service="routing")
    return engine


def add_events(engine: Engine, count: int) -> list[int]:
    with transaction(engine) as session:
        rows = [
            RoutingOutbox(
                event_id=str(uuid4()),
                topic="dispatch.units.status.v1",
                key="CL-1",
                ce_type="org.dispatch.unit.status.v1",
                source="/test",
                payload=json.dumps({"unit_id": "CL-1", "n": n}),
            )
            for n in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows if row.id is not None]


def test_a_cursor_without_resume_sends_only_what_commits_later(engine: Engine) -> None:
    add_events(engine, 3)
    cursor = StreamCursor.at_newest(engine)
    assert cursor.poll() == []
    later = add_events(engine, 2)
    assert [e.id for e in cursor.poll()] == later
    assert cursor.poll() == []


def test_on_sqlite_a_missing_id_is_final_and_passed(engine: Engine) -> None:
    ids = add_events(engine, 5)
    with transaction(engine) as session:  # purged (or rolled back): it will never commit
        session.exec(delete(RoutingOutbox).where(RoutingOutbox.id == ids[1]))  # type: ignore[arg-type]
    cursor = StreamCursor(engine, after=0)
    assert [e.id for e in cursor.poll()] == [ids[0], *ids[2:]]
    assert cursor.waiting_on is None and cursor.after == ids[-1]


def test_a_resumed_cursor_reads_a_backlog_in_pages(engine: Engine) -> None:
    ids = add_events(engine, 7)
    cursor = StreamCursor(engine, after=ids[1])
    assert [e.id for e in cursor.poll(limit=3)] == ids[2:5]
    assert [e.id for e in cursor.poll(limit=3)] == ids[5:]


def test_a_stream_token_opens_for_its_role_until_it_expires() -> None:
    now = [1_000_000.0]
    issuer = StreamTokens(SECRET, ttl_seconds=60, clock=lambda: now[0])
    issued = issuer.issue(Role.CONSOLE)
    assert issued.expires_in == 60
    assert issuer.verify(issued.token) is Role.CONSOLE
    now[0] += 59
    assert issuer.verify(issued.token) is Role.CONSOLE
    now[0] += 1
    assert issuer.verify(issued.token) is None  # expired


def test_a_stream_token_cannot_be_altered_or_used_with_another_secret() -> None:
    issuer = StreamTokens(SECRET, ttl_seconds=60)
    token = issuer.issue(Role.CONSOLE).token
    version, expires, role, nonce, mac = token.split(".")
    assert issuer.verify(".".join([version, str(int(expires) + 3600), role, nonce, mac])) is None
    assert issuer.verify(".".join([version, expires, "ops", nonce, mac])) is None
    assert StreamTokens(b"t" * 32, ttl_seconds=60).verify(token) is None
    assert StreamTokens(SECRET, ttl_seconds=60).verify(token) is Role.CONSOLE  # another replica, same secret
    for garbage in ("", ".", "v1.1.console.x", token + "x", "console-test-key-0123456789abcdef"):
        assert issuer.verify(garbage) is None


def test_a_stream_token_secret_is_long_enough() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        StreamTokens(b"short", ttl_seconds=60)
    one, other = (StreamTokens.with_secret("", ttl_seconds=60) for _ in range(2))
    assert other.verify(one.issue(Role.CONSOLE).token) is None  # a random secret per process
