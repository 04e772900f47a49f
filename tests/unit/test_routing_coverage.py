"""Service hours, zones and the unserved reasons they lead to: plain functions, no database."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dispatch_shared.events import Route, UnitType
from routing.assignment import (
    DEFAULT_FALLBACKS,
    AvailableUnit,
    QueuedCall,
    passed_over,
    rank_queue,
    rank_units,
)
from routing.coverage import ALWAYS, Coverage, Duty, OffDuty, load_roster_file, load_zones, parse_window
from routing.unserved import EligibleCall, UnservedReason, fallback_reason, summarize_unserved

DENVER = ZoneInfo("America/Denver")
MONDAY_NOON_DENVER = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # 12:00 MST
MONDAY_LATE_DENVER = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)  # Monday 22:30 MST
DOWNTOWN: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "downtown"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[-105.0, 39.7], [-104.9, 39.7], [-104.9, 39.8], [-105.0, 39.8], [-105.0, 39.7]]
                ],
            },
        }
    ],
}
INSIDE, OUTSIDE = (39.75, -104.95), (39.60, -104.95)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=DENVER)


@pytest.mark.parametrize(
    ("window", "moment", "covered"),
    [
        ("mon-fri 08:00-17:00", "2026-11-30T08:00", True),  # a Monday, start inclusive
        ("mon-fri 08:00-17:00", "2026-11-30T17:00", False),  # end exclusive
        ("mon-fri 08:00-17:00", "2026-12-05T12:00", False),  # Saturday
        ("sat,sun 10:00-18:00", "2026-12-06T11:00", True),
        ("daily 06:00-22:00", "2026-12-02T21:59", True),
        ("daily 06:00-22:00", "2026-12-02T05:59", False),
        ("fri 22:00-06:00", "2026-12-04T23:00", True),  # Friday night
        ("fri 22:00-06:00", "2026-12-05T05:00", True),  # ... into Saturday morning
        ("fri 22:00-06:00", "2026-12-04T05:00", False),  # but not Friday morning
        ("sun-tue 00:00-24:00", "2026-11-30T13:00", True),  # a range across the week's end
        ("sun-tue 00:00-24:00", "2026-12-02T13:00", False),
        ("Mon-Fri 08:00-17:00", "2026-11-30T09:00", True),
    ],
)
def test_windows_cover_what_they_say(window: str, moment: str, covered: bool) -> None:
    assert parse_window(window).covers(local(moment)) is covered


@pytest.mark.parametrize(
    "bad",
    ["weekdays 08:00-17:00", "mon 8-17", "mon 25:00-26:00", "mon 08:00-08:00", "mon-xyz 08:00-09:00", ""],
)
def test_bad_windows_are_refused_naming_the_window(bad: str) -> None:
    with pytest.raises(ValueError, match="service hours"):
        parse_window(bad)


def test_hours_are_read_in_the_agency_time_zone() -> None:
    day_team = Coverage.of(["daily 06:00-22:00"], None)
    duty = Duty(timezone=DENVER)
    assert duty.excludes(day_team, at=MONDAY_NOON_DENVER, lat=None, lon=None) is None
    assert duty.excludes(day_team, at=MONDAY_LATE_DENVER, lat=None, lon=None) is OffDuty.OUT_OF_SERVICE_HOURS
    # Read in UTC instead, Denver's noon is 19:00 (on shift) and its 22:30 is 05:30 (off).
    assert Duty().excludes(day_team, at=MONDAY_NOON_DENVER, lat=None, lon=None) is None
    assert (
        Duty().excludes(day_team, at=MONDAY_LATE_DENVER, lat=None, lon=None) is OffDuty.OUT_OF_SERVICE_HOURS
    )
    assert Duty(timezone=ZoneInfo("Asia/Tokyo")).excludes(
        day_team, at=MONDAY_NOON_DENVER, lat=None, lon=None
    ) is (
        OffDuty.OUT_OF_SERVICE_HOURS  # 04:00 in Tokyo
    )


def test_zones_hold_calls_inside_and_an_unlocated_call_is_never_refused(tmp_path: Path) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(DOWNTOWN))
    duty = Duty(zones=load_zones(path))
    downtown_team = Coverage.of(None, ["downtown"])
    assert duty.excludes(downtown_team, at=MONDAY_NOON_DENVER, lat=INSIDE[0], lon=INSIDE[1]) is None
    assert (
        duty.excludes(downtown_team, at=MONDAY_NOON_DENVER, lat=OUTSIDE[0], lon=OUTSIDE[1])
        is OffDuty.OUT_OF_ZONE
    )
    assert duty.excludes(downtown_team, at=MONDAY_NOON_DENVER, lat=None, lon=None) is None
    assert duty.excludes(ALWAYS, at=MONDAY_NOON_DENVER, lat=OUTSIDE[0], lon=OUTSIDE[1]) is None


@pytest.mark.parametrize(
    "document",
    [
        {"type": "Feature"},
        {
            "type": "FeatureCollection",
            "features": [{"properties": {}, "geometry": DOWNTOWN["features"][0]["geometry"]}],
        },
        {"type": "FeatureCollection", "features": [DOWNTOWN["features"][0], DOWNTOWN["features"][0]]},
        {
            "type": "FeatureCollection",
            "features": [{"properties": {"name": "x"}, "geometry": {"type": "Point"}}],
        },
    ],
)
def test_bad_zone_files_are_refused(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="ZONES_FILE"):
        load_zones(path)


def test_a_units_own_hours_win_over_its_types(tmp_path: Path) -> None:
    path = tmp_path / "roster.json"
    path.write_text(json.dumps({"types": {"clinician": {"service_hours": ["daily 06:00-22:00"]}}}))
    duty = Duty(by_type=load_roster_file(path))
    assert duty.coverage(UnitType.CLINICIAN, None, None).hours == (parse_window("daily 06:00-22:00"),)
    assert duty.coverage(UnitType.CLINICIAN, ["mon 08:00-09:00"], None).hours == (
        parse_window("mon 08:00-09:00"),
    )
    assert duty.coverage(UnitType.POLICE, None, None) == ALWAYS


def unit(unit_id: str, unit_type: UnitType, hours: list[str] | None = None) -> AvailableUnit:
    return AvailableUnit(
        unit_id=unit_id,
        type=unit_type,
        lat=None,
        lon=None,
        available_since=MONDAY_NOON_DENVER,
        coverage=Coverage.of(hours, None),
    )


CALL = QueuedCall(call_id="c1", route=Route.CLINICIAN_ONLY, priority=3, received_at=MONDAY_NOON_DENVER)


def test_an_off_shift_team_is_passed_over_for_the_fallback_and_says_why() -> None:
    duty = Duty(timezone=DENVER)
    night = unit("CL-1", UnitType.CLINICIAN, ["daily 06:00-22:00"])
    fallback = unit("CR-1", UnitType.CO_RESPONSE)
    ranked = rank_units(
        call=CALL, units=[night, fallback], chains=DEFAULT_FALLBACKS, duty=duty, at=MONDAY_LATE_DENVER
    )
    assert [c.unit.unit_id for c in ranked] == ["CR-1"]
    reasons = passed_over(
        call=CALL, units=[night, fallback], unit_type=UnitType.CLINICIAN, duty=duty, at=MONDAY_LATE_DENVER
    )
    assert fallback_reason(reasons) is UnservedReason.OUT_OF_SERVICE_HOURS
    by_day = rank_units(
        call=CALL, units=[night, fallback], chains=DEFAULT_FALLBACKS, duty=duty, at=MONDAY_NOON_DENVER
    )
    assert [c.unit.unit_id for c in by_day] == ["CL-1", "CR-1"]
    # Off shift, it takes nothing from the queue either.
    assert (
        rank_queue(unit=night, queued=[CALL], chains=DEFAULT_FALLBACKS, duty=duty, at=MONDAY_LATE_DENVER)
        == []
    )
    assert rank_queue(
        unit=night, queued=[CALL], chains=DEFAULT_FALLBACKS, duty=duty, at=MONDAY_NOON_DENVER
    ) == [CALL]


@pytest.mark.parametrize(
    ("passed", "reason"),
    [
        ([], UnservedReason.NO_UNIT_AVAILABLE),
        ([OffDuty.OUT_OF_ZONE], UnservedReason.OUT_OF_ZONE),
        ([OffDuty.OUT_OF_ZONE, OffDuty.OUT_OF_SERVICE_HOURS], UnservedReason.OUT_OF_SERVICE_HOURS),
    ],
)
def test_the_fallback_reason_names_the_strongest_cause(passed: list[OffDuty], reason: UnservedReason) -> None:
    assert fallback_reason(passed) is reason


def test_the_unserved_summary_counts_calls_and_their_share() -> None:
    calls = [
        EligibleCall(Route.CLINICIAN_ONLY, frozenset()),
        EligibleCall(Route.CLINICIAN_ONLY, frozenset({UnservedReason.NO_UNIT_AVAILABLE})),
        EligibleCall(
            Route.CLINICIAN_ONLY, frozenset({UnservedReason.NO_UNIT_AVAILABLE, UnservedReason.QUEUE_TIMEOUT})
        ),
        EligibleCall(Route.CO_RESPONSE, frozenset({UnservedReason.DISPATCHER_OVERRIDE})),
    ]
    report = summarize_unserved(calls, since=MONDAY_NOON_DENVER, until=MONDAY_LATE_DENVER)
    assert (report.eligible_calls, report.served_as_triaged, report.unserved_calls) == (4, 1, 3)
    assert report.served_as_triaged_share == 0.25
    counts = {(c.route, c.reason): c.calls for c in report.by_route_and_reason}
    assert counts == {
        (Route.CLINICIAN_ONLY, UnservedReason.NO_UNIT_AVAILABLE): 2,
        (Route.CLINICIAN_ONLY, UnservedReason.QUEUE_TIMEOUT): 1,
        (Route.CO_RESPONSE, UnservedReason.DISPATCHER_OVERRIDE): 1,
    }
    assert report.by_route_and_reason[0].calls == 2
    empty = summarize_unserved([], since=MONDAY_NOON_DENVER, until=MONDAY_LATE_DENVER)
    assert (empty.eligible_calls, empty.served_as_triaged_share) == (0, None)
