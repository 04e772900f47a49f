"""How a call changes after it is received: what counts as a change, and the text triage reads.

Pure functions, no database: the ledger applies them under a lock on the call's row.

* CAD systems resend the *whole* incident, so a resent version **replaces** the call's narrative,
  call type and location; it is a change only if one of those three differs (``changed_fields``).
  The caller's details and ``received_at`` of a resend are not compared and not updated.
* Supplemental notes are **appended**; they are never replaced.
* The whole call text triage classifies (``CallUpdated.narrative``) is the current narrative,
  then every note in time order (by ``at``, then by revision), one part per line
  (``compose_call_text``). Earlier narrative versions are kept for the record but are not part
  of it: the resent narrative already is CAD's whole account.
* Revisions: the ``CallReceived`` is revision 1; each accepted change (a differing resend or a
  note) is the call's current revision plus one (``next_revision``). The ledger serialises this
  on the call's row, so concurrent changes never share a number.
* Route and priority follow the newest revision decided (``precedence``), never an older one
  arriving late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from dispatch_shared.events import Location

FIRST_REVISION = 1

Precedence = Literal["newer", "same", "older"]


@dataclass(frozen=True)
class IncidentVersion:
    """The parts of an incident CAD resends that triage reads: narrative, call type, location."""

    narrative: str
    call_type: str | None
    location: Location | None

    def comparable_location(self) -> tuple[str | None, float | None, float | None]:
        """``(address, lat, lon)``; no location and an empty one compare equal."""
        if self.location is None:
            return (None, None, None)
        return (self.location.address, self.location.lat, self.location.lon)


@dataclass(frozen=True)
class Note:
    """A supplemental note: its text, when CAD added it, and the revision it made."""

    text: str
    at: datetime
    revision: int


def changed_fields(stored: IncidentVersion, sent: IncidentVersion) -> list[str]:
    """Which of ``narrative``, ``call_type``, ``location`` differ between two versions, in that order.

    Text is compared exactly as stored (both sides went through the same cleaning at intake), so
    a change of case or wording counts and a resend byte for byte the same does not. An empty
    list means the resend is a repeat.
    """
    changed = []
    if stored.narrative != sent.narrative:
        changed.append("narrative")
    if stored.call_type != sent.call_type:
        changed.append("call_type")
    if stored.comparable_location() != sent.comparable_location():
        changed.append("location")
    return changed


def compose_call_text(narrative: str | None, notes: Iterable[Note]) -> str:
    """The whole call as triage reads it: ``narrative``, then each note by ``(at, revision)``, one per line.

    Blank parts are left out (a call may have only a call type, and a purged narrative is None).
    A note's own line breaks are kept: they separate sentences, which the classifier relies on.
    """
    parts = [narrative or ""] + [note.text for note in sorted(notes, key=lambda n: (n.at, n.revision))]
    return "\n".join(part for part in parts if part.strip())


def next_revision(current: int) -> int:
    """The revision of the next accepted change to a call now at ``current`` (1 or more)."""
    if current < FIRST_REVISION:
        raise ValueError(f"a call's revision starts at {FIRST_REVISION}, not {current}")
    return current + 1


def precedence(revision: int, decided: int | None, *, has_route: bool) -> Precedence:
    """How an event of ``revision`` stands against the revision the call's route was set from.

    ``decided`` is the newest revision route and priority were set from (None when unknown: a
    route set before revisions were tracked counts as revision 1, no route as none yet). A
    ``newer`` event replaces route and priority; the ``same`` revision fills what is missing but
    does not replace what routing already set; an ``older`` one changes neither.
    """
    newest = decided if decided is not None else (FIRST_REVISION if has_route else 0)
    if revision > newest:
        return "newer"
    if revision == newest:
        return "same"
    return "older"
