"""The call ledger on a real database: idempotent intake, ordered timeline, forward-only status."""

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallStatus, OverrideReason, Route, RouteReason
from dispatch_shared.outbox import Outbox
from intake import ledger
from intake.app import MIGRATIONS
from intake.models import IntakeOutbox
from intake.schemas import CallSubmission
from sqlalchemy.engine import Engine
from sqlmodel import select

from tests.factories import T0, later, routed, status_changed, submission, triaged

pytestmark = pytest.mark.db


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine, migrations_dir=MIGRATIONS, service="intake")
    yield engine
    engine.dispose()


def accept(engine: Engine, **overrides: Any) -> UUID:
    with transaction(engine) as session:
        call = ledger.accept_call(
            session,
            submission=CallSubmission.model_validate(submission(**overrides)),
            outbox=Outbox(IntakeOutbox, source="/dispatch/intake"),
        )
        return UUID(call.call_id)


def test_accepting_a_call_writes_the_call_and_its_event_together(engine: Engine) -> None:
    call_id = accept(engine, cad_incident_id="CAD-77")
    with transaction(engine) as session:
        rows = session.exec(select(IntakeOutbox)).all()
        record = ledger.get_ledger(session, call_id)
    assert [row.topic for row in rows] == ["dispatch.calls.received.v1"]
    assert rows[0].key == str(call_id)
    assert record.cad_incident_id == "CAD-77"
    assert [step.status for step in record.timeline] == [CallStatus.RECEIVED]


def test_events_arriving_out_of_order_still_give_an_ordered_timeline(engine: Engine) -> None:
    call_id = accept(engine, received_at=T0.isoformat())
    with transaction(engine) as session:
        # Routed and status events overtake the triage event (different topics, no shared order).
        ledger.record_routed(session, routed(call_id, at=later(2)))
        ledger.record_status(session, status_changed(call_id, CallStatus.EN_ROUTE, later(3), unit_id="CL-1"))
        ledger.record_triaged(session, triaged(call_id, at=later(1)))
    with transaction(engine) as session:
        record = ledger.get_ledger(session, call_id)
    assert [step.status for step in record.timeline] == [
        CallStatus.RECEIVED,
        CallStatus.TRIAGED,
        CallStatus.ASSIGNED,
        CallStatus.EN_ROUTE,
    ]
    assert record.status == CallStatus.EN_ROUTE  # the late triage event did not move it back
    assert record.route == "clinician_only"
    assert record.assigned_unit is not None and record.assigned_unit.unit_id == "CL-1"
    assert record.decision is not None and record.decision["rule"] == "R3_behavioral_no_threat"


def test_resolution_records_the_disposition(engine: Engine) -> None:
    call_id = accept(engine)
    with transaction(engine) as session:
        ledger.record_routed(session, routed(call_id, at=later(1)))
        ledger.record_status(
            session,
            status_changed(call_id, CallStatus.RESOLVED, later(30), disposition="referred_to_services"),
        )
    with transaction(engine) as session:
        record = ledger.get_ledger(session, call_id)
    assert record.status == CallStatus.RESOLVED
    assert record.disposition == "referred_to_services"


def test_an_event_for_an_unknown_call_is_refused(engine: Engine) -> None:
    from uuid import uuid4

    with pytest.raises(ledger.UnknownCall), transaction(engine) as session:
        ledger.record_triaged(session, triaged(uuid4()))


def test_listing_filters_by_status_and_pages(engine: Engine) -> None:
    ids = [accept(engine) for _ in range(3)]
    with transaction(engine) as session:
        ledger.record_routed(session, routed(ids[0], at=later(1), unit_id=None))
    with transaction(engine) as session:
        queued = ledger.list_calls(session, status=CallStatus.QUEUED)
        first_page = ledger.list_calls(session, limit=2)
        second_page = ledger.list_calls(session, limit=2, offset=2)
    assert [item.call_id for item in queued.items] == [ids[0]]
    assert first_page.total == 3 and len(first_page.items) == 2 and len(second_page.items) == 1
    assert {i.call_id for i in first_page.items + second_page.items} == set(ids)


def test_retention_purges_narratives_and_caller_but_keeps_the_record(engine: Engine) -> None:
    from datetime import timedelta

    from dispatch_shared.events import Indicator, utcnow
    from intake.models import Call
    from intake.retention import purge

    old = accept(engine, received_at=T0.isoformat(), caller={"name": "Pat", "phone": "555-0100"})
    new = accept(engine, received_at=utcnow().isoformat())
    said = Indicator(family="B", code="suicidal_ideation", text="wants to die", span=(10, 22))
    with transaction(engine) as session:
        ledger.record_triaged(session, triaged(old, at=later(1), indicators=[said]))
        for row in session.exec(select(IntakeOutbox)):
            row.sent_at = utcnow()  # both delivered; only the old one is past retention
            if row.key == str(old):
                row.created_at = T0

    purged = purge(engine, utcnow() - timedelta(days=1))

    assert purged.calls == 1
    with transaction(engine) as session:
        kept, recent = session.get(Call, str(old)), session.get(Call, str(new))
        record = ledger.get_ledger(session, old)
        payloads = [row.payload for row in session.exec(select(IntakeOutbox))]
    assert kept is not None and kept.narrative is None and kept.caller is None
    assert record.route == "clinician_only" and record.decision is not None  # decisions stay
    assert record.decision["rule"] == "R3_behavioral_no_threat"
    assert record.decision["indicators"] == [{**said.model_dump(mode="json"), "text": ""}]  # no excerpt
    assert recent is not None and recent.narrative == "Man hearing voices"
    assert purged.events == 1 and len(payloads) == 1 and str(new) in payloads[0]


def test_route_and_decision_follow_the_newest_triage_revision_whatever_the_arrival_order(
    engine: Engine,
) -> None:
    call_id = accept(engine)
    newer = triaged(call_id, at=later(5), route="co_response", threat_level="elevated", priority=2, rule="R2")
    newer.revision = 2
    with transaction(engine) as session:
        ledger.record_triaged(session, newer)
        # Revision 1's decision and routing arrive late (another topic, another partition order).
        ledger.record_triaged(session, triaged(call_id, at=later(1)))
        ledger.record_routed(session, routed(call_id, at=later(2)))
    with transaction(engine) as session:
        record = ledger.get_ledger(session, call_id)
    assert (record.route, record.threat_level, record.priority) == ("co_response", "elevated", 2)
    assert record.decision is not None and record.decision["rule"] == "R2"
    triaged_steps = [(s.step, getattr(s, "revision", None)) for s in record.timeline if s.step == "triaged"]
    assert triaged_steps == [("triaged", 1), ("triaged", 2)]  # every revision on the timeline, by time
    assert record.status == CallStatus.ASSIGNED


def test_once_routed_the_route_is_routings_and_a_new_revision_changes_it_only_through_routing(
    engine: Engine,
) -> None:
    call_id = accept(engine)
    with transaction(engine) as session:
        ledger.record_triaged(session, triaged(call_id, at=later(1)))
        routed_police = routed(call_id, at=later(2))
        routed_police.route = Route.POLICE  # a dispatcher's override of revision 1
        ledger.record_routed(session, routed_police)
    with transaction(engine) as session:
        assert ledger.get_ledger(session, call_id).route == "police"
        # Revision 2 reads as a de-escalation; routing keeps the police unit (a suggestion only).
        second = triaged(call_id, at=later(3), route="clinician_only", threat_level="none", priority=3)
        second.revision = 2
        ledger.record_triaged(session, second)
    with transaction(engine) as session:
        record = ledger.get_ledger(session, call_id)
    assert (record.route, record.priority) == ("police", 3)  # what was sent, not what was read
    assert record.threat_level == "none"  # the decision record follows the newest revision
    # Revision 3 escalates: routing re-routes and says so; the ledger follows routing.
    with transaction(engine) as session:
        third = routed(call_id, at=later(4))
        third.route, third.priority, third.revision = Route.CO_RESPONSE, 1, 3
        ledger.record_routed(session, third)
    with transaction(engine) as session:
        record = ledger.get_ledger(session, call_id)
    assert (record.route, record.priority) == ("co_response", 1)


def test_a_routed_step_that_told_the_clinician_team_to_stage_says_so(engine: Engine) -> None:
    call_id = accept(engine)
    with transaction(engine) as session:
        ledger.record_triaged(session, triaged(call_id, at=later(1)))
        ledger.record_routed(session, routed(call_id, at=later(2)))
        imminent = routed(call_id, at=later(3), unit_id="P-1")
        imminent.route, imminent.reason, imminent.revision = Route.POLICE, RouteReason.RE_TRIAGED, 2
        imminent.staging = True
        ledger.record_routed(session, imminent)
    with transaction(engine) as session:
        record = ledger.get_ledger(session, call_id)
    steps = [step.model_dump() for step in record.timeline]
    assert [(s["reason"], s.get("staging")) for s in steps if "reason" in s] == [
        ("triaged", None),  # nothing to stage on the first assignment
        ("re_triaged", True),
    ]


def test_an_overridden_routing_step_carries_the_dispatchers_reason_and_never_their_notes(
    engine: Engine,
) -> None:
    call_id = accept(engine)
    with transaction(engine) as session:
        ledger.record_triaged(session, triaged(call_id, at=later(1)))
        ledger.record_routed(session, routed(call_id, at=later(2)))
        escalated = routed(call_id, at=later(3), unit_id="CR-1")
        escalated.route, escalated.reason, escalated.revision = Route.CO_RESPONSE, RouteReason.RE_TRIAGED, 2
        ledger.record_routed(session, escalated)
        overridden = routed(call_id, at=later(4), unit_id="CL-1")
        overridden.reason, overridden.revision = RouteReason.OVERRIDE, 2
        overridden.override_reason = OverrideReason.CALLER_HISTORY
        ledger.record_routed(session, overridden)
    with transaction(engine) as session:
        record = ledger.get_ledger(session, call_id)
    steps = [step.model_dump(mode="json") for step in record.timeline if step.step == "assigned"]
    assert [(s["reason"], s.get("override_reason")) for s in steps] == [
        ("triaged", None),
        ("re_triaged", None),  # only a dispatcher's step names a dispatcher's reason
        ("override", "caller_history"),
    ]
    assert not any("notes" in step for step in steps)
    assert record.route == "clinician_only"
