"""Triage a received call: classify it, keep the decision, and stage ``CallTriaged``."""

from __future__ import annotations

from dispatch_shared.events import CallReceived, CallTriaged, TriageDecision, utcnow
from dispatch_shared.outbox import Outbox
from sqlmodel import Session

from triage.models import Decision
from triage.policy.engine import classify
from triage.policy.lexicon import Policy


def triage_call(session: Session, *, call: CallReceived, policy: Policy, outbox: Outbox) -> TriageDecision:
    """Decide the response for ``call``; a call already decided keeps its first decision."""
    existing = session.get(Decision, str(call.call_id))
    if existing is not None:
        return TriageDecision.model_validate_json(existing.record)
    decision = classify(call.narrative, call.call_type, policy=policy)
    session.add(
        Decision(
            call_id=str(call.call_id),
            route=decision.route,
            threat_level=decision.threat_level,
            priority=decision.priority,
            policy_version=decision.policy_version,
            record=decision.model_dump_json(),
        )
    )
    outbox.add(
        session,
        CallTriaged(
            call_id=call.call_id,
            decision=decision,
            location=call.location,
            received_at=call.received_at,
            triaged_at=utcnow(),
        ),
    )
    return decision
