"""When and where a unit works: weekly service hours and named zones.

Clinician teams rarely cover every hour and every neighbourhood. Denver's STAR vans worked
6 am to 10 pm at first; New York's B-HEARD served 31 precincts. A unit off shift, or a call
outside the unit's zones, is not a unit for that call, even when the unit shows ``available``.

* **Service hours** are weekly windows in the agency's time zone (``AGENCY_TIMEZONE``), written
  ``"mon-fri 08:00-17:00"``, ``"sat,sun 10:00-18:00"`` or ``"daily 06:00-22:00"``. A window whose
  end is not after its start runs past midnight (``"fri 22:00-06:00"`` covers Friday night into
  Saturday morning). No windows: always on shift.
* **Zones** are named polygons from a GeoJSON FeatureCollection (``ZONES_FILE``; each feature a
  Polygon or MultiPolygon with a ``name`` property; coordinates lon, lat as GeoJSON has them).
  No zones: anywhere. A call without coordinates is never refused for its place: nobody can tell
  where it is, and refusing would leave it unserved.

A unit's own hours and zones (sent with its registration) win; otherwise those of its type in
the roster file (``ROSTER_FILE``, JSON ``{"types": {"clinician": {"service_hours": [...],
"zones": [...]}}}``) apply. Point-in-polygon is shapely's (GEOS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import shapely
from dispatch_shared.events import UnitType
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

__all__ = [
    "ALWAYS",
    "Coverage",
    "Duty",
    "OffDuty",
    "Window",
    "load_roster_file",
    "load_zones",
    "parse_window",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})\s*$")


class OffDuty(StrEnum):
    """Why an available unit cannot take a call."""

    OUT_OF_SERVICE_HOURS = "out_of_service_hours"
    OUT_OF_ZONE = "out_of_zone"


@dataclass(frozen=True)
class Window:
    """One weekly window: ``days`` (0 = Monday) from ``start`` to ``end``, local time.

    ``end`` None: midnight at the end of the day (written 24:00).
    """

    days: frozenset[int]
    start: time
    end: time | None

    def covers(self, local: datetime) -> bool:
        """Whether the local wall-clock time ``local`` falls in this window."""
        clock = local.time().replace(tzinfo=None)
        if self.end is None:
            return local.weekday() in self.days and clock >= self.start
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= clock < self.end
        # Past midnight: the evening part on a listed day, the morning part on the day after one.
        yesterday = (local.weekday() - 1) % 7
        return (local.weekday() in self.days and clock >= self.start) or (
            yesterday in self.days and clock < self.end
        )


def _clock(text: str, window: str) -> time | None:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"service hours {window!r}: {text} is not a time of day")
    return time(hours, minutes)


def _days(text: str, window: str) -> frozenset[int]:
    if text == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"service hours {window!r}: days are mon..sun, 'daily', or ranges like mon-fri")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return frozenset(days)


@lru_cache(maxsize=1024)  # read for every free unit at every assignment; the same few strings
def parse_window(text: str) -> Window:
    """Parse ``"mon-fri 08:00-17:00"``; raises ValueError naming the window."""
    found = _WINDOW.match(text.lower())
    if found is None:
        raise ValueError(f"service hours {text!r}: write days then HH:MM-HH:MM, e.g. 'mon-fri 08:00-17:00'")
    start, end = _clock(found["start"], text), _clock(found["end"], text)
    if start is None:
        raise ValueError(f"service hours {text!r}: a window starts at 23:59 at the latest")
    if start == end:
        raise ValueError(
            f"service hours {text!r}: a window needs a length; use 'daily 00:00-24:00' for always"
        )
    return Window(days=_days(found["days"], text), start=start, end=end)


@dataclass(frozen=True)
class Coverage:
    """A unit's service hours (empty: always) and zones (empty: anywhere)."""

    hours: tuple[Window, ...] = ()
    zones: tuple[str, ...] = ()

    @classmethod
    def of(cls, hours: Iterable[str] | None, zones: Iterable[str] | None) -> Coverage:
        """From the written form; raises ValueError naming a bad window."""
        return cls(tuple(parse_window(w) for w in hours or ()), tuple(zones or ()))


ALWAYS = Coverage()


def load_zones(path: Path) -> dict[str, BaseGeometry]:
    """Named zones from a GeoJSON FeatureCollection; raises ValueError saying what is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"ZONES_FILE {path}: not readable as JSON ({exc.__class__.__name__})") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ValueError(f"ZONES_FILE {path}: expected a GeoJSON FeatureCollection")
    zones: dict[str, BaseGeometry] = {}
    for position, feature in enumerate(document.get("features") or []):
        name = (feature.get("properties") or {}).get("name")
        geometry = feature.get("geometry") or {}
        if not isinstance(name, str) or not name or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
            raise ValueError(
                f"ZONES_FILE {path}: feature {position} needs a name and a Polygon or MultiPolygon"
            )
        if name in zones:
            raise ValueError(f"ZONES_FILE {path}: zone {name!r} is named twice")
        polygon = shape(geometry)
        shapely.prepare(polygon)
        zones[name] = polygon
    return zones


def load_roster_file(path: Path) -> dict[UnitType, Coverage]:
    """Per unit type, the hours and zones a unit of it has unless it sends its own."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        types = document.get("types", {})
        return {
            UnitType(name): Coverage.of(entry.get("service_hours"), entry.get("zones"))
            for name, entry in types.items()
        }
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"ROSTER_FILE {path}: not a roster file ({exc.__class__.__name__})") from None


@dataclass(frozen=True)
class Duty:
    """The agency's service rules: whether an available unit may take a given call now, and how long
    an eligible call may wait for its team.

    ``timezone``: the agency's (IANA name, e.g. America/Los_Angeles); service hours are read in it.
    ``queue_timeout_s``: seconds an eligible call may wait queued before it counts as unserved
    (``routing.unserved``); None: never.
    """

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    zones: Mapping[str, BaseGeometry] = field(default_factory=dict)
    by_type: Mapping[UnitType, Coverage] = field(default_factory=dict)
    queue_timeout_s: float | None = None

    def coverage(
        self, unit_type: UnitType, hours: Sequence[str] | None, zones: Sequence[str] | None
    ) -> Coverage:
        """A unit's own hours and zones where given, else its type's from the roster file."""
        default = self.by_type.get(unit_type, ALWAYS)
        own = Coverage.of(hours, zones)
        return Coverage(own.hours if hours else default.hours, own.zones if zones else default.zones)

    def unknown_zones(self, zones: Iterable[str]) -> list[str]:
        """The names in ``zones`` that ``ZONES_FILE`` does not define."""
        return [name for name in zones if name not in self.zones]

    def excludes(
        self, coverage: Coverage, *, at: datetime, lat: float | None, lon: float | None
    ) -> OffDuty | None:
        """Why a unit with ``coverage`` cannot take a call at (lat, lon) at ``at``; None when it can."""
        if coverage.hours:
            local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(self.timezone)
            if not any(window.covers(local) for window in coverage.hours):
                return OffDuty.OUT_OF_SERVICE_HOURS
        if coverage.zones and lat is not None and lon is not None:
            point = shapely.Point(lon, lat)
            if not any(name in self.zones and self.zones[name].covers(point) for name in coverage.zones):
                return OffDuty.OUT_OF_ZONE
        return None
