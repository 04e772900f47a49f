"""The call-journey metrics on a real SQLite database: recorded once their change commits, never for
a change rolled back; triage's decisions and receipt-to-triaged seconds; dead-letter series at 0."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from dispatch_shared.cloudevents import FaultReason
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallReceived, CallUpdated, utcnow
from dispatch_shared.metrics import (
    CALL_SECONDS_BUCKETS,
    DEAD_LETTERS,
    declare_dead_letters,
    on_commit,
)
from dispatch_shared.outbox import Outbox
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.engine import Engine
from triage.app import MIGRATIONS
from triage.models import TriageOutbox
from triage.policy import default_policy
from triage.service import triage_call

from tests.factories import new_call_id

OUTBOX = Outbox(TriageOutbox, source="/dispatch/triage")
# Behavioral, no threat: R3, clinician_only (docs/triage-policy.md).
CRISIS = "My brother is having a panic attack and says he hears voices, he is not violent."


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("triage") / "triage.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine, migrations_dir=MIGRATIONS, service="triage")
    yield engine
    engine.dispose()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_observation_waits_for_the_commit(engine: Engine) -> None:
    seen: list[str] = []
    with transaction(engine) as session:
        on_commit(session, lambda: seen.append("committed"))
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        assert seen == []
    assert seen == ["committed"]


def test_a_rolled_back_change_records_nothing(engine: Engine) -> None:
    seen: list[str] = []
    with pytest.raises(RuntimeError), transaction(engine) as session:
        on_commit(session, lambda: seen.append("committed"))
        raise RuntimeError("the database went away")
    assert seen == []


def test_a_released_savepoint_is_not_the_commit(engine: Engine) -> None:
    seen: list[str] = []
    with pytest.raises(RuntimeError), transaction(engine) as session:
        with session.begin_nested():
            on_commit(session, lambda: seen.append("committed"))
        assert seen == []  # the savepoint is released, the transaction is still open
        raise RuntimeError("then the transaction fails")
    assert seen == []


def test_a_failing_observation_does_not_fail_the_commit(engine: Engine) -> None:
    seen: list[str] = []

    def broken() -> None:
        raise ZeroDivisionError

    with transaction(engine) as session:
        on_commit(session, broken)
        on_commit(session, lambda: seen.append("next"))
    assert seen == ["next"]


def received(seconds_ago: float) -> CallReceived:
    return CallReceived(
        call_id=new_call_id(),
        cad_incident_id=f"CAD-{new_call_id()}",
        narrative=CRISIS,
        received_at=utcnow() - timedelta(seconds=seconds_ago),
    )


def test_a_decision_counts_once_and_its_first_revision_times_receipt_to_triaged(engine: Engine) -> None:
    policy = default_policy()
    labels = {"route": "clinician_only", "threat_level": "none", "rule": "R3_behavioral_no_threat"}
    decisions = sample("dispatch_triage_decisions_total", **labels)
    timed = sample("dispatch_call_triaged_seconds_count", route="clinician_only")
    within_45 = sample("dispatch_call_triaged_seconds_bucket", route="clinician_only", le="45.0")
    within_60 = sample("dispatch_call_triaged_seconds_bucket", route="clinician_only", le="60.0")
    call = received(seconds_ago=50)

    with transaction(engine) as session:
        decision = triage_call(session, call=call, policy=policy, outbox=OUTBOX)
        assert sample("dispatch_triage_decisions_total", **labels) == decisions  # not before the commit
    assert (decision.route, decision.rule) == ("clinician_only", "R3_behavioral_no_threat")
    assert sample("dispatch_triage_decisions_total", **labels) == decisions + 1
    assert sample("dispatch_call_triaged_seconds_count", route="clinician_only") == timed + 1
    # 50 s after receipt: inside the 60 s standard's bucket, not the 45 s one.
    assert sample("dispatch_call_triaged_seconds_bucket", route="clinician_only", le="45.0") == within_45
    assert sample("dispatch_call_triaged_seconds_bucket", route="clinician_only", le="60.0") == within_60 + 1

    with transaction(engine) as session:  # the same revision again: decided already, nothing published
        triage_call(session, call=call, policy=policy, outbox=OUTBOX)
    assert sample("dispatch_triage_decisions_total", **labels) == decisions + 1

    update = CallUpdated(
        call_id=call.call_id,
        cad_incident_id=call.cad_incident_id,
        narrative=CRISIS,
        received_at=call.received_at,
        revision=2,
        change="note",
        updated_at=utcnow(),
    )
    with transaction(engine) as session:  # a later revision is a decision, but not a new receipt
        triage_call(session, call=update, policy=policy, outbox=OUTBOX)
    assert sample("dispatch_triage_decisions_total", **labels) == decisions + 2
    assert sample("dispatch_call_triaged_seconds_count", route="clinician_only") == timed + 1


def test_a_decision_rolled_back_is_not_counted(engine: Engine) -> None:
    labels = {"route": "clinician_only", "threat_level": "none", "rule": "R3_behavioral_no_threat"}
    before = sample("dispatch_triage_decisions_total", **labels)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        triage_call(session, call=received(seconds_ago=1), policy=default_policy(), outbox=OUTBOX)
        raise RuntimeError("crash before the commit: the event will be redelivered")
    assert sample("dispatch_triage_decisions_total", **labels) == before


def test_the_buckets_read_the_sixty_second_standard_directly() -> None:
    assert 60 in CALL_SECONDS_BUCKETS
    assert list(CALL_SECONDS_BUCKETS) == sorted(CALL_SECONDS_BUCKETS)
    below = [edge for edge in CALL_SECONDS_BUCKETS if edge < 60]
    assert len(below) >= 6 and max(CALL_SECONDS_BUCKETS) >= 600


def test_dead_letter_series_start_at_zero_for_every_reason() -> None:
    topic = f"t{new_call_id().hex[:8]}.dispatch.calls.triaged.v1"
    assert (
        REGISTRY.get_sample_value("dispatch_dead_letters_total", {"topic": topic, "reason": "rejected"})
        is None
    )
    declare_dead_letters([topic])
    for reason in FaultReason:
        labels = {"topic": topic, "reason": reason.value}
        assert REGISTRY.get_sample_value("dispatch_dead_letters_total", labels) == 0.0
    DEAD_LETTERS.labels(topic, FaultReason.INVALID_BODY.value).inc()
    declare_dead_letters([topic])  # declaring again (a restart of the consumer) keeps the count
    labels = {"topic": topic, "reason": "invalid_body"}
    assert REGISTRY.get_sample_value("dispatch_dead_letters_total", labels) == 1.0
