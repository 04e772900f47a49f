"""Triage a received or updated call: classify it, keep the decision, and stage ``CallTriaged``.

Each revision of a call is decided once: revision 1 from ``CallReceived``, later ones from
``CallUpdated``, whose narrative is the whole call text so far. Decisions are kept per
``(call_id, revision)``; a redelivered event publishes nothing new. Revisions can arrive out of
order (they travel on two topics); an older one arriving after a newer one is still decided,
kept and published with its revision, and the consumers (routing, intake's ledger) act on the
newest revision they have seen.
"""

from __future__ import annotations

from functools import partial

from dispatch_shared.events import CallReceived, CallTriaged, CallUpdated, TriageDecision, utcnow
from dispatch_shared.metrics import on_commit, record_triaged
from dispatch_shared.outbox import Outbox
from sqlmodel import Session

from triage.models import Decision
from triage.policy.engine import classify
from triage.policy.lexicon import Policy


def triage_call(
    session: Session, *, call: CallReceived | CallUpdated, policy: Policy, outbox: Outbox
) -> TriageDecision:
    """Decide the response for this revision of ``call``; a revision already decided keeps its decision.

    A new decision is counted in the metrics once the transaction commits (``record_triaged``).
    """
    revision = call.revision if isinstance(call, CallUpdated) else 1
    existing = session.get(Decision, (str(call.call_id), revision))
    if existing is not None:
        return TriageDecision.model_validate_json(existing.record)
    decision = classify(call.narrative, call.call_type, policy=policy)
    session.add(
        Decision(
            call_id=str(call.call_id),
            revision=revision,
            route=decision.route,
            threat_level=decision.threat_level,
            priority=decision.priority,
            policy_version=decision.policy_version,
            record=decision.model_dump_json(),
        )
    )
    triaged = CallTriaged(
        call_id=call.call_id,
        decision=decision,
        location=call.location,
        received_at=call.received_at,
        triaged_at=utcnow(),
        revision=revision,
    )
    outbox.add(session, triaged)
    on_commit(session, partial(record_triaged, triaged))
    return decision
