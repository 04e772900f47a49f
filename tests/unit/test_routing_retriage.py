"""What a new triage revision does to a routed call: the decision table of ``routing.retriage``."""

from collections.abc import Sequence

import pytest
from dispatch_shared.events import CallStatus, Route, ThreatLevel, UnitType
from routing.assignment import DEFAULT_FALLBACKS
from routing.retriage import CallState, Reading, RetriageAction, decide_retriage, unneeded_units

CLIN, CO, POL = Route.CLINICIAN_ONLY, Route.CO_RESPONSE, Route.POLICE
NONE, ELEVATED, HIGH, IMMINENT = (
    ThreatLevel.NONE,
    ThreatLevel.ELEVATED,
    ThreatLevel.HIGH,
    ThreatLevel.IMMINENT,
)
CLINICIAN, CO_TEAM, OFFICER = UnitType.CLINICIAN, UnitType.CO_RESPONSE, UnitType.POLICE
IGNORE, REQUEUE, ESCALATE, SUGGEST, RECORD = (
    RetriageAction.IGNORE,
    RetriageAction.REQUEUE,
    RetriageAction.ESCALATE,
    RetriageAction.SUGGEST,
    RetriageAction.RECORD,
)


def state(
    route: Route,
    threat: ThreatLevel,
    units: Sequence[UnitType],
    *,
    status: CallStatus | None = None,
    revision: int = 1,
) -> CallState:
    default_status = CallStatus.ASSIGNED if units else CallStatus.QUEUED
    return CallState(
        route=route, threat_level=threat, revision=revision, status=status or default_status, unit_types=units
    )


# (route, threat, units on the call) x (new route, new threat) -> (action, unit added for, staging)
TABLE = [
    # Escalations add what is missing, keep who is there.
    ((CLIN, NONE, [CLINICIAN]), (CO, ELEVATED), (ESCALATE, CO, False)),
    ((CLIN, NONE, [CLINICIAN]), (CO, HIGH), (ESCALATE, CO, False)),
    ((CLIN, NONE, [CLINICIAN]), (POL, IMMINENT), (ESCALATE, POL, True)),
    ((CLIN, NONE, [CLINICIAN]), (POL, NONE), (ESCALATE, POL, False)),
    ((CO, HIGH, [CO_TEAM]), (POL, IMMINENT), (ESCALATE, POL, False)),  # no clinician-only team to stage
    ((CO, ELEVATED, [CO_TEAM]), (POL, HIGH), (ESCALATE, POL, False)),
    ((CO, ELEVATED, [OFFICER]), (POL, HIGH), (ESCALATE, None, False)),  # an officer already went (fallback)
    # A clinician-only call served by a co-response team (fallback) already has what co_response needs.
    ((CLIN, NONE, [CO_TEAM]), (CO, ELEVATED), (ESCALATE, None, False)),
    # The threat rises on the same route: the change goes out, the units there already serve it.
    ((CO, ELEVATED, [CO_TEAM]), (CO, HIGH), (ESCALATE, None, False)),
    ((POL, HIGH, [OFFICER]), (POL, IMMINENT), (ESCALATE, None, False)),
    ((POL, HIGH, [OFFICER, CLINICIAN]), (POL, IMMINENT), (ESCALATE, None, True)),
    ((CO, HIGH, [CLINICIAN, OFFICER]), (POL, IMMINENT), (ESCALATE, None, True)),
    # De-escalation is only ever a suggestion on a call with a unit.
    ((CO, ELEVATED, [CO_TEAM]), (CLIN, NONE), (SUGGEST, None, False)),
    ((POL, IMMINENT, [OFFICER, CLINICIAN]), (CO, HIGH), (SUGGEST, None, False)),
    ((POL, NONE, [OFFICER]), (CO, ELEVATED), (SUGGEST, None, False)),  # less response, even as threat rises
    # The same response still fits.
    ((CO, HIGH, [CO_TEAM]), (CO, ELEVATED), (RECORD, None, False)),
    ((CLIN, NONE, [CLINICIAN]), (CLIN, NONE), (RECORD, None, False)),
    # No unit yet: routed again as a fresh call, whichever way the route moved.
    ((CLIN, NONE, []), (CO, HIGH), (REQUEUE, None, False)),
    ((POL, HIGH, []), (CLIN, NONE), (REQUEUE, None, False)),
    ((CO, ELEVATED, []), (CO, ELEVATED), (REQUEUE, None, False)),
]


@pytest.mark.parametrize(("current", "new", "expected"), TABLE)
def test_decision_table(
    current: tuple[Route, ThreatLevel, list[UnitType]],
    new: tuple[Route, ThreatLevel],
    expected: tuple[RetriageAction, Route | None, bool],
) -> None:
    route, threat, units = current
    plan = decide_retriage(
        state(route, threat, units), route=new[0], threat_level=new[1], revision=2, chains=DEFAULT_FALLBACKS
    )
    assert (plan.action, plan.add_unit_for, plan.staging) == expected
    assert plan.why


@pytest.mark.parametrize("revision", [1, 2])
def test_a_revision_not_newer_is_ignored_whatever_it_says(revision: int) -> None:
    current = state(CO, HIGH, [CO_TEAM], revision=2)
    for route, threat in [(POL, IMMINENT), (CLIN, NONE), (CO, HIGH)]:
        plan = decide_retriage(
            current, route=route, threat_level=threat, revision=revision, chains=DEFAULT_FALLBACKS
        )
        assert plan.action is IGNORE and plan.add_unit_for is None


@pytest.mark.parametrize("status", [CallStatus.RESOLVED, CallStatus.CANCELLED])
def test_a_closed_call_is_left_alone(status: CallStatus) -> None:
    plan = decide_retriage(
        state(CLIN, NONE, [CLINICIAN], status=status),
        route=POL,
        threat_level=IMMINENT,
        revision=2,
        chains=DEFAULT_FALLBACKS,
    )
    assert plan.action is IGNORE


@pytest.mark.parametrize("status", [CallStatus.EN_ROUTE, CallStatus.ON_SCENE])
def test_escalation_happens_whatever_step_the_unit_is_at(status: CallStatus) -> None:
    plan = decide_retriage(
        state(CLIN, NONE, [CLINICIAN], status=status),
        route=POL,
        threat_level=IMMINENT,
        revision=5,
        chains=DEFAULT_FALLBACKS,
    )
    assert (plan.action, plan.add_unit_for, plan.staging) == (ESCALATE, POL, True)


def test_coverage_follows_the_configured_chains() -> None:
    # With co-response teams allowed to stand in for police, a co-response team covers the police route.
    chains = dict(DEFAULT_FALLBACKS) | {Route.POLICE: (UnitType.POLICE, UnitType.CO_RESPONSE)}
    current = state(CO, HIGH, [CO_TEAM])
    assert (
        decide_retriage(current, route=POL, threat_level=HIGH, revision=2, chains=chains).add_unit_for is None
    )
    assert (
        decide_retriage(
            current, route=POL, threat_level=HIGH, revision=2, chains=DEFAULT_FALLBACKS
        ).add_unit_for
        is POL
    )


# A dispatcher overrode the call to its route now, setting aside the reading ``overruled``.
# (route now, threat now, units, overruled) x (new route, new threat) -> (action, added for, suggested, held)
HELD_TABLE = [
    # Back to clinician_only from co_response: the old text still reads co_response. It is suggested only.
    ((CLIN, ELEVATED, [CLINICIAN], (CO, ELEVATED)), (CO, ELEVATED), (SUGGEST, None, CO, True)),
    ((CLIN, HIGH, [CLINICIAN], (CO, HIGH)), (CO, ELEVATED), (SUGGEST, None, CO, True)),
    ((CLIN, NONE, [CLINICIAN], (POL, IMMINENT)), (CO, HIGH), (SUGGEST, None, CO, True)),
    ((CLIN, NONE, [CLINICIAN], (POL, IMMINENT)), (POL, IMMINENT), (SUGGEST, None, POL, True)),
    ((CO, HIGH, [CO_TEAM], (POL, HIGH)), (POL, ELEVATED), (SUGGEST, None, POL, True)),
    # The threat rises on the call's route but not above what was overruled: recorded, no units.
    ((CLIN, NONE, [CLINICIAN], (CO, HIGH)), (CLIN, ELEVATED), (RECORD, None, None, True)),
    # More severe than what the dispatcher overruled: a higher route, or a higher threat. At once.
    ((CLIN, ELEVATED, [CLINICIAN], (CO, ELEVATED)), (POL, ELEVATED), (ESCALATE, POL, None, False)),
    ((CLIN, ELEVATED, [CLINICIAN], (CO, ELEVATED)), (CO, HIGH), (ESCALATE, CO, None, False)),
    ((CLIN, ELEVATED, [CLINICIAN], (CO, ELEVATED)), (POL, IMMINENT), (ESCALATE, POL, None, False)),
    ((CLIN, HIGH, [CLINICIAN], (CO, HIGH)), (CLIN, IMMINENT), (ESCALATE, None, None, False)),
    # A lesser reading is a suggestion, override or not; the same reading is recorded.
    ((POL, NONE, [OFFICER], (CLIN, NONE)), (CO, NONE), (SUGGEST, None, CO, False)),
    ((POL, NONE, [OFFICER], (CLIN, NONE)), (POL, NONE), (RECORD, None, None, False)),
    # Queued under an override: re-queued with the new priority, on the dispatcher's route.
    ((CLIN, NONE, [], (CO, HIGH)), (CO, HIGH), (REQUEUE, None, CO, True)),
    ((CLIN, NONE, [], (CO, HIGH)), (CLIN, ELEVATED), (REQUEUE, None, None, True)),
    ((CLIN, NONE, [], (CO, HIGH)), (POL, HIGH), (REQUEUE, None, None, False)),
]


@pytest.mark.parametrize(("current", "new", "expected"), HELD_TABLE)
def test_an_override_holds_until_a_revision_reads_more_than_it_overruled(
    current: tuple[Route, ThreatLevel, list[UnitType], tuple[Route, ThreatLevel]],
    new: tuple[Route, ThreatLevel],
    expected: tuple[RetriageAction, Route | None, Route | None, bool],
) -> None:
    route, threat, units, (overruled_route, overruled_threat) = current
    held = CallState(
        route=route,
        threat_level=threat,
        revision=2,
        status=CallStatus.ASSIGNED if units else CallStatus.QUEUED,
        unit_types=units,
        overridden=Reading(overruled_route, overruled_threat),
    )
    plan = decide_retriage(held, route=new[0], threat_level=new[1], revision=3, chains=DEFAULT_FALLBACKS)
    assert (plan.action, plan.add_unit_for, plan.suggested_route, plan.held) == expected
    assert plan.why


def test_without_an_override_the_same_revision_escalates() -> None:
    # The control for the first row above: no override, so co_response escalates a clinician-only call.
    plan = decide_retriage(
        state(CLIN, ELEVATED, [CLINICIAN]),
        route=CO,
        threat_level=ELEVATED,
        revision=3,
        chains=DEFAULT_FALLBACKS,
    )
    assert (plan.action, plan.add_unit_for, plan.held) == (ESCALATE, CO, False)


def test_the_overruled_reading_is_the_most_severe_of_route_and_threat() -> None:
    first = Reading(POL, ELEVATED)
    assert first.most_severe(None) == first
    assert first.most_severe(Reading(CO, IMMINENT)) == Reading(POL, IMMINENT)
    assert Reading(CO, IMMINENT).exceeds(first) and Reading(POL, HIGH).exceeds(first)
    assert not Reading(CLIN, ELEVATED).exceeds(first) and not first.exceeds(first)


# (route, primary type, added by escalations) -> the ids the route no longer needs
UNNEEDED = [
    # Back to clinician_only: the clinician primary serves it; a co-response team or officer added is spare.
    ((CLIN, CLINICIAN, [("CO-1", CO_TEAM)]), ["CO-1"]),
    ((CLIN, CLINICIAN, [("P-1", OFFICER)]), ["P-1"]),
    ((CLIN, CLINICIAN, [("CO-1", CO_TEAM), ("P-1", OFFICER)]), ["CO-1", "P-1"]),
    # The route still needs the added unit: the primary does not serve it.
    ((POL, CLINICIAN, [("P-1", OFFICER)]), []),
    ((CO, CLINICIAN, [("CO-1", CO_TEAM), ("P-1", OFFICER)]), ["P-1"]),
    # A named primary of the route's type makes an added one of the same response spare.
    ((POL, OFFICER, [("P-1", OFFICER)]), ["P-1"]),
    # No primary (never after an override, which keeps or names one): the first that serves stays.
    ((CO, None, [("CL-9", CLINICIAN), ("CO-1", CO_TEAM)]), ["CL-9"]),
    ((CLIN, CLINICIAN, []), []),
]


@pytest.mark.parametrize(("call", "expected"), UNNEEDED)
def test_units_an_escalation_added_that_the_route_no_longer_needs(
    call: tuple[Route, UnitType | None, list[tuple[str, UnitType]]], expected: list[str]
) -> None:
    route, primary, added = call
    assert unneeded_units(route, primary, added, DEFAULT_FALLBACKS) == expected
