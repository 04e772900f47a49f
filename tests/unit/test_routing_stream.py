"""The console stream's framing and its handling of ids that commit out of order."""

import json
from datetime import timedelta

from routing.stream import GAP_GRACE, StreamEvent, format_sse, next_events

from tests.factories import T0


def event(event_id: int, age: timedelta = timedelta(0)) -> StreamEvent:
    return StreamEvent(
        id=event_id, name="call.routed", data='{"call_id": "c", "status": "queued"}', created_at=T0 - age
    )


def test_consecutive_ids_all_go_out() -> None:
    rows = [event(5), event(6), event(7)]
    assert next_events(rows, after=4, now=T0) == rows


def test_a_young_gap_holds_back_what_follows_it() -> None:
    rows = [event(5), event(7), event(8)]  # 6 may still be committing
    assert [e.id for e in next_events(rows, after=4, now=T0)] == [5]


def test_an_old_gap_is_a_rollback_and_is_skipped() -> None:
    rows = [event(5, GAP_GRACE * 2), event(7, GAP_GRACE * 2), event(8)]
    assert [e.id for e in next_events(rows, after=4, now=T0)] == [5, 7, 8]


def test_a_gap_right_after_the_resume_point_counts_too() -> None:
    assert next_events([event(9)], after=4, now=T0) == []
    assert [e.id for e in next_events([event(9, GAP_GRACE * 2)], after=4, now=T0)] == [9]


def test_sse_framing_has_id_event_and_one_line_of_data() -> None:
    text = format_sse(StreamEvent(id=12, name="unit.status", data='{\n "unit_id": "CL-1"\n}', created_at=T0))
    assert text.endswith("\n\n")
    lines = text.strip("\n").split("\n")
    assert lines[:2] == ["id: 12", "event: unit.status"]
    assert len(lines) == 3 and json.loads(lines[2].removeprefix("data: ")) == {"unit_id": "CL-1"}
