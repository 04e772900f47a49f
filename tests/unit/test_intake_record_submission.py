"""Recording a CAD submission without HTTP: a first post is new, a repeat is not (and updates the
call only when it differs), and a post that loses the insert to a concurrent post of the same
incident is retried once as a repeat. On a real SQLite ledger."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallStatus
from dispatch_shared.outbox import Outbox
from intake import ledger
from intake.app import MIGRATIONS
from intake.models import Call, IntakeOutbox
from intake.schemas import CallSubmission
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.factories import submission

OUTBOX = Outbox(IntakeOutbox, source="/test/intake")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate(engine, migrations_dir=MIGRATIONS, service="intake")
    yield engine
    engine.dispose()


def record(engine: Engine, sent: CallSubmission) -> ledger.Submitted:
    return ledger.record_submission(
        partial(transaction, engine),
        lambda session: ledger.submit_call(session, submission=sent, outbox=OUTBOX),
    )


def stored(engine: Engine) -> tuple[list[Call], list[str]]:
    """Every call, and the topic of every event staged, oldest first."""
    with transaction(engine) as session:
        calls = list(session.exec(select(Call)).all())
        topics = [row.topic for row in session.exec(select(IntakeOutbox).order_by(col(IntakeOutbox.id)))]
    return calls, topics


def posted(**overrides: Any) -> CallSubmission:
    return CallSubmission.model_validate(submission(cad_incident_id="CAD-1", **overrides))


def test_a_first_post_is_new_and_an_unchanged_repeat_changes_nothing(engine: Engine) -> None:
    first = record(engine, posted())
    repeat = record(engine, posted())
    assert (first.new, first.updated) == (True, False)
    assert (repeat.new, repeat.updated) == (False, False)
    assert repeat.call.call_id == first.call.call_id
    calls, topics = stored(engine)
    assert len(calls) == 1 and calls[0].revision == 1
    assert topics == ["dispatch.calls.received.v1"]


def test_a_changed_repeat_updates_the_call_as_its_next_revision(engine: Engine) -> None:
    record(engine, posted())
    changed = record(engine, posted(narrative="Man hearing voices, now holding a knife"))
    assert (changed.new, changed.updated, changed.call.revision) == (False, True, 2)
    calls, topics = stored(engine)
    assert calls[0].narrative == "Man hearing voices, now holding a knife"
    assert topics == ["dispatch.calls.received.v1", "dispatch.calls.updated.v1"]


def test_a_post_that_loses_the_insert_to_a_concurrent_post_is_retried_as_a_repeat(engine: Engine) -> None:
    sent = posted()
    runs: list[ledger.Submitted] = []

    def racing(session: Session) -> ledger.Submitted:
        done = ledger.submit_call(session, submission=sent, outbox=OUTBOX)
        if not runs:  # the other post of the incident commits after this one looked, before it commits
            with transaction(engine) as other:
                ledger.submit_call(other, submission=sent, outbox=OUTBOX)
        runs.append(done)
        return done

    result = ledger.record_submission(partial(transaction, engine), racing)
    assert [run.new for run in runs] == [True, False]  # the first run lost the insert
    assert (result.new, result.updated) == (False, False)
    calls, topics = stored(engine)
    assert len(calls) == 1 and result.call.call_id == calls[0].call_id
    assert topics == ["dispatch.calls.received.v1"]  # the losing run's event was rolled back


def test_a_refused_change_keeps_nothing(engine: Engine) -> None:
    first = record(engine, posted())
    with transaction(engine) as session:
        call = session.get(Call, first.call.call_id)
        assert call is not None
        call.status = CallStatus.RESOLVED
    with pytest.raises(ledger.ChangeRefused):
        record(engine, posted(narrative="A different story"))
    calls, topics = stored(engine)
    assert (calls[0].narrative, calls[0].revision) == ("Man hearing voices", 1)
    assert topics == ["dispatch.calls.received.v1"]
