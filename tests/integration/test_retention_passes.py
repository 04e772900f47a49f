"""Each service's retention pass on a real database: what leaves, what stays, and late copies.

The end-to-end scan (tests/e2e/test_retention.py) shows nothing is left; these show the cases it
cannot time: a decision or a note that reaches a store after its call was already purged, and
an outbox row that Kafka has not taken yet.
"""

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallReceived, CallStatus, Indicator, utcnow
from dispatch_shared.outbox import Outbox
from dispatch_shared.retention import purge
from intake import ledger
from intake.app import MIGRATIONS as INTAKE_MIGRATIONS
from intake.models import Call, IntakeOutbox
from intake.retention import purge_before as intake_pass
from intake.schemas import CallSubmission
from routing import calls, dispatch
from routing.app import MIGRATIONS as ROUTING_MIGRATIONS
from routing.assignment import DEFAULT_FALLBACKS
from routing.models import CallOverride, CallUnit, RoutedCall, RoutingOutbox
from routing.retention import purge_before as routing_pass
from sqlalchemy.engine import Engine
from sqlmodel import select
from triage.app import MIGRATIONS as TRIAGE_MIGRATIONS
from triage.models import Decision, TriageOutbox
from triage.policy import default_policy
from triage.retention import purge_before as triage_pass
from triage.service import triage_call

from tests.factories import T0, later, new_call_id, submission, triaged

pytestmark = pytest.mark.db

SAID = Indicator(family="B", code="suicidal_ideation", text="wants to die", span=(10, 22))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    for service, directory in (
        ("intake", INTAKE_MIGRATIONS),
        ("triage", TRIAGE_MIGRATIONS),
        ("routing", ROUTING_MIGRATIONS),
    ):
        migrate(engine, migrations_dir=directory, service=service)
    yield engine
    engine.dispose()


def test_intake_blanks_a_decision_that_arrives_after_the_narrative_was_purged(engine: Engine) -> None:
    with transaction(engine) as session:
        call = ledger.accept_call(
            session,
            submission=CallSubmission.model_validate(submission(received_at=T0.isoformat())),
            outbox=Outbox(IntakeOutbox, source="/dispatch/intake"),
        )
        call_id = UUID(call.call_id)
    assert purge(engine, intake_pass, utcnow() - timedelta(days=1)).calls == 1
    assert purge(engine, intake_pass, utcnow() - timedelta(days=1)).calls == 0  # nothing new

    with transaction(engine) as session:  # triage was slow: its decision lands after the purge
        ledger.record_triaged(session, triaged(call_id, at=later(1), indicators=[SAID]))
    assert purge(engine, intake_pass, utcnow() - timedelta(days=1)).calls == 1

    with transaction(engine) as session:
        stored = session.get(Call, str(call_id))
        assert stored is not None and stored.narrative is None and stored.decision is not None
        assert "wants to die" not in stored.decision
        record = ledger.get_ledger(session, call_id)
    assert record.decision is not None and record.decision["indicators"][0]["code"] == "suicidal_ideation"


def test_triage_keeps_the_codes_and_drops_the_text_and_the_delivered_payload(engine: Engine) -> None:
    outbox = Outbox(TriageOutbox, source="/dispatch/triage")
    sent, unsent = new_call_id(), new_call_id()
    with transaction(engine) as session:
        for call_id in (sent, unsent):
            received = CallReceived(
                call_id=call_id,
                cad_incident_id=str(call_id),
                narrative="He says he wants to die",
                received_at=T0,
            )
            triage_call(session, call=received, policy=default_policy(), outbox=outbox)
        for decision in session.exec(select(Decision)):
            decision.decided_at = T0
        for row in session.exec(select(TriageOutbox)):
            row.created_at = T0
            row.sent_at = T0 if row.key == str(sent) else None

    purged = purge(engine, triage_pass, utcnow() - timedelta(days=1))

    assert (purged.calls, purged.events) == (2, 1)
    with transaction(engine) as session:
        decisions = session.exec(select(Decision)).all()
        left = session.exec(select(TriageOutbox)).all()
    assert all("wants to die" not in d.record and '"suicidal_ideation"' in d.record for d in decisions)
    assert all(d.redacted_at is not None for d in decisions)
    assert [row.key for row in left] == [str(unsent)]  # an undelivered event still goes out


def test_routing_clears_notes_reported_after_its_copy_was_purged(engine: Engine) -> None:
    outbox = Outbox(RoutingOutbox, source="/dispatch/routing")
    call_id = new_call_id()
    with transaction(engine) as session:
        dispatch.route_call(
            session, event=triaged(call_id, indicators=[SAID]), chains=DEFAULT_FALLBACKS, outbox=outbox
        )
    assert purge(engine, routing_pass, utcnow() - timedelta(days=1)).calls == 1

    with transaction(engine) as session:  # the call is closed after the purge, with notes
        report = calls.StatusReport(status=CallStatus.CANCELLED, notes="Said again he wants to die")
        calls.report_status(
            session, call_id=str(call_id), report=report, chains=DEFAULT_FALLBACKS, outbox=outbox
        )
        for row in session.exec(select(RoutingOutbox)):
            row.created_at, row.sent_at = T0, T0
    purged = purge(engine, routing_pass, utcnow() - timedelta(days=1))

    assert purged.calls == 1 and purged.events >= 1
    with transaction(engine) as session:
        stored = session.get(RoutedCall, str(call_id))
        assert session.exec(select(RoutingOutbox)).all() == []
    assert stored is not None and stored.notes is None and stored.status == CallStatus.CANCELLED
    assert stored.decision is not None and "wants to die" not in stored.decision
    assert '"suicidal_ideation"' in stored.decision


def test_routing_clears_override_notes_and_backup_reasons(engine: Engine) -> None:
    outbox = Outbox(RoutingOutbox, source="/dispatch/routing")
    call_id = new_call_id()
    with transaction(engine) as session:
        dispatch.route_call(session, event=triaged(call_id), chains=DEFAULT_FALLBACKS, outbox=outbox)
        session.add(
            CallOverride(
                call_id=str(call_id),
                overridden_at=T0,
                by="console",
                reason="caller_history",
                notes="Caller said he would hurt his sister",
                from_route="clinician_only",
                to_route="co_response",
            )
        )
        session.add(
            CallUnit(
                call_id=str(call_id),
                unit_id="P-9",
                unit_type="police",
                revision=1,
                assigned_at=T0,
                backup_reason="Subject grabbed a kitchen knife",
            )
        )
    assert purge(engine, routing_pass, utcnow() - timedelta(days=1)).calls == 1
    with transaction(engine) as session:
        override = session.exec(select(CallOverride)).one()
        added = session.exec(select(CallUnit)).one()
    assert override.notes is None and override.reason == "caller_history"  # the reason code stays
    assert added.backup_reason == "[purged]" and added.unit_type == "police"
