"""The domain metrics move as calls flow: ten calls posted to intake are counted by triage's decision
counter and by the receipt-to-triaged, -routed and -assigned histograms, read from the services'
own ``/metrics``, and the receipt-to-assigned p90 can be read off the histogram's buckets.

Nothing here asserts how fast the stack is: only counts, and that the buckets give a quantile.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.e2e.conftest import Stack
from tests.factories import submission
from tests.stack import auth

CALLS = 10
UNITS_PER_TYPE = CALLS  # every call gets a unit at once, whatever its route and fallback
UNIT_TYPES = ("clinician", "co_response", "police")
NARRATIVES = (
    "Caller says her brother is hearing voices and is scared, no weapons.",
    "Man sitting on the bridge railing says he wants to end it, alone, no weapons seen.",
    "Neighbour is shouting at people who are not there, throwing his own things in the yard.",
    "Woman reports her adult son has not slept for days and is confused, calm at the moment.",
    "Caller reports a man with a knife threatening people outside the shop.",
)


def scrape(url: str) -> list[Sample]:
    """Every sample a service's ``/metrics`` answers."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 when none)."""
    return sum(
        sample.value
        for sample in samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    )


def buckets(samples: list[Sample], histogram: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts by upper bound, summed over its other labels
    (PromQL's ``sum by (le)``)."""
    summed: dict[float, float] = {}
    for sample in samples:
        if sample.name == f"{histogram}_bucket":
            bound = float(sample.labels["le"])
            summed[bound] = summed.get(bound, 0.0) + sample.value
    return summed


def quantile(q: float, cumulative: Mapping[float, float]) -> float:
    """The ``q`` quantile (0 < q < 1) of cumulative bucket counts, as PromQL's histogram_quantile
    reads it: linear within the bucket where rank ``q * count`` falls, the first bucket starting
    at 0; a rank in the ``+Inf`` bucket gives the highest finite bound. Raises ValueError when
    the histogram has no observations."""
    bounds = sorted(cumulative)
    count = cumulative[math.inf]
    if count <= 0:
        raise ValueError("no observations")
    rank = q * count
    lower, below = 0.0, 0.0
    for bound in bounds:
        if cumulative[bound] >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (cumulative[bound] - below)
        lower, below = bound, cumulative[bound]
    raise ValueError("buckets are not cumulative up to +Inf")


def test_the_quantile_helper_reads_buckets_as_prometheus_does() -> None:
    # The promtool case for CallAssignmentSlow (deploy/prometheus/alerts_test.yml): 86.25 there too.
    assert quantile(0.9, {30.0: 1, 60.0: 2, 90.0: 10, math.inf: 10}) == pytest.approx(86.25)
    assert quantile(0.5, {1.0: 4, 2.0: 4, math.inf: 4}) == pytest.approx(0.5)
    assert quantile(0.9, {60.0: 1, math.inf: 10}) == 60.0  # past the last finite edge
    with pytest.raises(ValueError, match="no observations"):
        quantile(0.9, {60.0: 0, math.inf: 0})


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.e2e
def test_calls_flowing_move_the_domain_metrics(stack: Stack) -> None:
    triage, routing = stack["triage"].url, stack["routing"].url
    units = [
        {"unit_id": f"{kind}-{n}", "type": kind, "name": f"{kind} {n}"}
        for kind in UNIT_TYPES
        for n in range(UNITS_PER_TYPE)
    ]
    registered = httpx.post(f"{routing}/v1/units", json=units, headers=auth("ops"), timeout=10)
    assert registered.status_code == 200, registered.text
    triage_before, routing_before = scrape(triage), scrape(routing)

    with httpx.Client(base_url=stack["intake"].url, timeout=10) as client:
        for n in range(CALLS):
            narrative = NARRATIVES[n % len(NARRATIVES)]
            posted = client.post("/v1/calls", json=submission(narrative=narrative), headers=auth("cad"))
            assert posted.status_code == 202, posted.text

    def moved(url: str, before: list[Sample], name: str) -> float:
        return total(scrape(url), name) - total(before, name)

    wait_for(
        lambda: moved(routing, routing_before, "dispatch_call_assigned_seconds_count") >= CALLS,
        f"{CALLS} calls assigned",
    )
    triage_after, routing_after = scrape(triage), scrape(routing)

    def rise(before: list[Sample], after: list[Sample], name: str) -> float:
        return total(after, name) - total(before, name)

    # One decision and one observation of each interval per call, no more.
    assert rise(triage_before, triage_after, "dispatch_triage_decisions_total") == CALLS
    assert rise(triage_before, triage_after, "dispatch_call_triaged_seconds_count") == CALLS
    assert rise(routing_before, routing_after, "dispatch_call_routed_seconds_count") == CALLS
    assert rise(routing_before, routing_after, "dispatch_call_assigned_seconds_count") == CALLS
    # Every decision is labelled with a route, a threat level and the rule that decided it.
    decisions = [s for s in triage_after if s.name == "dispatch_triage_decisions_total" and s.value]
    assert decisions and all(set(s.labels) == {"route", "threat_level", "rule"} for s in decisions)
    # The routed and assigned counts per route agree: every call routed got its unit.
    for route in {s.labels["route"] for s in decisions}:
        routed = total(routing_after, "dispatch_call_routed_seconds_count", route=route)
        assert total(routing_after, "dispatch_call_assigned_seconds_count", route=route) == routed, route

    # The SLO reads straight off the buckets: receipt to assigned (and to triaged) p90.
    assigned = buckets(routing_after, "dispatch_call_assigned_seconds")
    assert assigned[math.inf] == total(routing_after, "dispatch_call_assigned_seconds_count")
    assert 60.0 in assigned  # the processing standard is a bucket edge
    for histogram in (assigned, buckets(triage_after, "dispatch_call_triaged_seconds")):
        p90 = quantile(0.9, histogram)
        assert math.isfinite(p90) and p90 > 0

    # Units free now (routing's state gauge, refreshed every STATE_METRICS_SECONDS): with no
    # service hours configured, exactly the available ones.
    def free_matches_available() -> bool:
        samples = scrape(routing)
        free = {s.labels["type"]: s.value for s in samples if s.name == "dispatch_units_free"}
        available = {
            kind: total(samples, "dispatch_units", type=kind, status="available") for kind in UNIT_TYPES
        }
        return free == available and sum(free.values()) == len(units) - CALLS

    wait_for(free_matches_available, "dispatch_units_free to report the units still free", timeout=30)
