"""Outcome evidence for agencies: outcomes per route, places with repeated crisis calls, and eligible
calls not served as triaged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from routing import calls, insights, unserved
from routing.api.deps import SessionDep, unprocessable
from routing.schemas import OutcomeReport, RepeatLocationReport

router = APIRouter(tags=["insights"])
"""Insights (operations)."""
unserved_router = APIRouter(tags=["insights"])
"""Unserved eligible calls (operations, and dispatchers: the console's top bar counts them)."""

SinceQuery = Annotated[datetime | None, Query(description="Start of the window (received time), inclusive.")]
UntilQuery = Annotated[datetime | None, Query(description="End of the window, exclusive; now if omitted.")]


EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # naive means UTC


def window(since: datetime | None, until: datetime | None, *, default_days: int) -> tuple[datetime, datetime]:
    """The [since, until) window, defaulting to the last ``default_days`` days."""
    end = _aware(until) if until is not None else datetime.now(UTC)
    try:
        start = _aware(since) if since is not None else end - timedelta(days=default_days)
    except OverflowError:
        raise unprocessable(("query", "until"), "until is too early") from None
    if not (EARLIEST <= start and end <= LATEST):
        raise unprocessable(("query", "since"), "the window must lie between 2000 and 2100")
    if start >= end:
        raise unprocessable(("query", "since"), "since must be before until")
    return start, end


@router.get(
    "/v1/insights/outcomes", summary="Per route: dispositions, arrest/force/referral rates, median times"
)
def outcomes(session: SessionDep, since: SinceQuery = None, until: UntilQuery = None) -> OutcomeReport:
    start, end = window(since, until, default_days=30)
    records = calls.outcome_records(session, since=start, until=end)
    return OutcomeReport(since=start, until=end, routes=insights.summarize_outcomes(records))


@router.get("/v1/insights/repeat-locations", summary="Places with repeated crisis calls: an outreach list")
def repeat_locations(
    session: SessionDep,
    since: SinceQuery = None,
    until: UntilQuery = None,
    min_calls: Annotated[
        int, Query(ge=2, le=1000, description="Crisis calls a place needs to be listed.")
    ] = 2,
) -> RepeatLocationReport:
    start, end = window(since, until, default_days=90)
    found = insights.repeat_locations(
        calls.crisis_calls(session, since=start, until=end), min_calls=min_calls
    )
    return RepeatLocationReport(since=start, until=end, min_calls=min_calls, places=found)


@unserved_router.get(
    "/v1/insights/unserved",
    summary="Calls eligible for a clinician team that did not get the response triaged, by route and reason",
)
def unserved_calls(
    session: SessionDep, since: SinceQuery = None, until: UntilQuery = None
) -> unserved.UnservedReport:
    start, end = window(since, until, default_days=30)
    found = unserved.eligible_calls(session, since=start, until=end)
    return unserved.summarize_unserved(found, since=start, until=end)
